"""The policy simulation page for analysts: edit parameters (or upload a draft pack), see what it would change.

The simulation is vectorised, so it runs in the request. The CSV of the changed households re-runs it with the
same inputs (the results page carries them in a hidden form, the draft pack's text included), so there is no
stored state to expire or leak between users.
"""

from __future__ import annotations

import csv
import io

from flask import Response, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from modules.means_test.simulation import CSV_COLUMNS, HouseholdChange, parse_number, simulate
from modules.means_test.simulation_tasks import simulate_national
from modules.registration.operations import today
from rules.pack import Pack, PackError, Version, get_pack, pack_ids
from webapp import audit
from webapp.auth.permissions import require
from webapp.extensions import db
from webapp.models import Job, JobStatus

MAX_DRAFT_BYTES = 512 * 1024
PARAM_PREFIX = "param-"
CHART_WIDTH, CHART_BAR_HEIGHT, CHART_LABEL, CHART_VALUE = 720, 22, 200, 110


def format_number(value) -> str:
    """Thousands separated by spaces, as amounts are written in the region; decimals only when there are any."""
    value = float(value)
    text = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return text.replace(",", "\u00a0")


def format_change(value) -> str:
    return ("+" if value > 0 else "") + format_number(value)


def _reference_version(pack: Pack) -> Version:
    """The version in force today (the first one when none is in force yet): its values fill the form."""
    on = today()
    in_force = [version for version in pack.versions if version.effective_from <= on]
    return in_force[-1] if in_force else pack.versions[0]


def _language() -> str:
    return str(get_locale() or "en")


class _Inputs:
    """The form, read and checked: the pack, the parameter values as typed, the changes, the draft's text."""

    def __init__(self, values, files):
        self.errors: dict[str, list[str]] = {}
        choices = pack_ids()
        self.pack_id = values.get("pack") or current_app.config["COUNTRY"]
        if self.pack_id not in choices:
            self.errors.setdefault("pack", []).append(_("Unknown rule pack %(pack)s.", pack=self.pack_id))
            self.pack_id = current_app.config["COUNTRY"] if current_app.config["COUNTRY"] in choices else choices[0]
        self.pack = get_pack(self.pack_id)
        self.version = _reference_version(self.pack)
        self.typed = {name: values.get(PARAM_PREFIX + name, format_plain(value))
                      for name, value in self.version.parameters.items()}
        self.changes = {}
        for name, text in self.typed.items():
            if not text.strip():
                self.errors.setdefault(PARAM_PREFIX + name, []).append(_("Enter a number."))
                continue
            try:
                number = parse_number(self.pack, name, text)
            except PackError:
                self.errors.setdefault(PARAM_PREFIX + name, []).append(
                    _("%(value)s is not a number.", value=text))
                continue
            if number < 0:
                self.errors.setdefault(PARAM_PREFIX + name, []).append(_("Enter a number that is not negative."))
                continue
            if number != self.version.parameters[name]:
                self.changes[name] = number
        if any(key.startswith(PARAM_PREFIX) and key[len(PARAM_PREFIX):] not in self.typed for key in values):
            # A bookmarked or hand-made address may name a parameter this policy does not have: say so rather
            # than simulate something other than what was asked.
            self.errors.setdefault("_form", []).append(
                _("The request names a parameter this policy does not have; open the simulation page again."))
        self.draft_text = self._draft(values, files)

    def _draft(self, values, files) -> str | None:
        upload = files.get("draft_file") if files else None
        if upload is not None and upload.filename:
            data = upload.read(MAX_DRAFT_BYTES + 1)
            if len(data) > MAX_DRAFT_BYTES:
                self.errors.setdefault("draft_file", []).append(
                    _("The draft pack is too large (at most %(kb)d KB).", kb=MAX_DRAFT_BYTES // 1024))
                return None
            try:
                return data.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.errors.setdefault("draft_file", []).append(_("The draft pack is not a UTF-8 text file."))
                return None
        text = values.get("draft_text") or ""
        return text if text.strip() else None

    def run(self):
        """The report, or None with the problem recorded against the field it concerns."""
        if self.errors:
            return None
        try:
            return simulate(self.pack.id, self.changes, self.draft_text, language=_language(), user=current_user)
        except PackError as error:
            field = "draft_file" if self.draft_text is not None else "_form"
            self.errors.setdefault(field, []).append(_pack_problem(self.pack, error))
            return None


def _pack_problem(pack: Pack, error: PackError) -> str:
    if error.kind == "alias":
        return _("The draft uses YAML aliases (*name), which are not accepted: write each value out in full.")
    if error.kind == "negative":
        return _("The draft cannot be simulated: %(parameter)s must not be negative.",
                 parameter=_parameter_label(pack, error.subject))
    if error.kind == "unknown_parameter":
        return _("The draft cannot be simulated: this policy has no parameter %(parameter)s.",
                 parameter=error.subject)
    return _("The draft cannot be simulated: %(problem)s", problem=str(error))


def format_plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _chart(report) -> dict:
    """Horizontal bars of the monthly cost change by region, laid out here so the page needs no script.

    Three columns: the region's name, the bars (growing right from the zero line for an increase, left for a
    decrease) and the value.
    """
    rows = report.regions
    largest = max([abs(row.change) for row in rows] + [0.0])
    left, right = CHART_LABEL + 10, CHART_WIDTH - CHART_VALUE
    span = right - left
    negative, positive = any(row.change < 0 for row in rows), any(row.change > 0 for row in rows)
    zero = left + span / 2 if negative and positive else right if negative else left
    scale = (span / 2 if negative and positive else span) / largest if largest else 0
    bars = []
    for index, row in enumerate(rows):
        length = abs(row.change) * scale
        bars.append({"label": row.name, "code": row.code, "value": format_change(row.change),
                     "x": round(zero - length if row.change < 0 else zero, 1), "width": round(length, 1),
                     "y": index * CHART_BAR_HEIGHT, "negative": row.change < 0})
    return {"bars": bars, "zero": round(zero, 1), "width": CHART_WIDTH, "value_x": CHART_WIDTH - 4,
            "height": max(len(rows), 1) * CHART_BAR_HEIGHT + 4, "bar_height": CHART_BAR_HEIGHT - 6}


def _parameter_label(pack: Pack, name: str) -> str:
    return pack.label(name, _language())


@require("policy.simulate")
def simulate_page():
    inputs = _Inputs(request.values if request.method == "POST" else request.args, request.files)
    # A GET with parameters (a bookmarked simulation) runs too; a bare GET shows the form.
    ran = request.method == "POST" or any(key.startswith(PARAM_PREFIX) for key in request.args)
    report = inputs.run() if ran else None
    status = 422 if inputs.errors else 200
    return render_template("means_test/simulate.html", inputs=inputs, report=report, packs=pack_ids(),
                           chart=_chart(report) if report else None, label=_parameter_label,
                           number=format_number, change=format_change, prefix=PARAM_PREFIX,
                           reference_date=today(), shown=report.changed[:100] if report else [],
                           scoped=not current_user.national_scope), status


@require("policy.simulate")
def simulate_csv():
    if request.values.get("job"):
        return _job_csv(request.values["job"])
    inputs = _Inputs(request.values, request.files)
    report = inputs.run()
    if report is None:
        problems = "; ".join(message for messages in inputs.errors.values() for message in messages)
        return Response(problems + "\n", status=422, mimetype="text/plain")
    buffer = io.StringIO()
    rows = report.write_csv(buffer)
    audit.record("policy.simulation_exported", "rule_pack", report.pack_id,
                 {"changes": report.changes, "draft": report.draft, "households": rows}, actor=current_user)
    name = f"simulation-{report.pack_id}-{today().isoformat()}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _job_csv(job_id: str) -> Response:
    """The changed households of a finished simulation job, for the user who ran it."""
    job = db.session.get(Job, job_id)
    if (job is None or job.kind != simulate_national.name or job.status is not JobStatus.finished
            or job.created_by_id != current_user.id or not job.result):
        abort(404)
    result = job.result
    fields = set(CSV_COLUMNS) - {"monthly_change"}
    rows = [list(CSV_COLUMNS), *(HouseholdChange(**{key: change[key] for key in fields}).row()
                                 for change in result["changed"])]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    audit.record("policy.simulation_exported", "rule_pack", result["pack"],
                 {"changes": result["changes"], "draft": result["draft"], "households": len(rows) - 1,
                  "job": job.id}, actor=current_user)
    name = f"simulation-{result['pack']}-{today().isoformat()}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
