"""The policy simulation page for analysts: edit parameters (or upload a draft pack), see what it would change.

The form is checked here; the simulation itself runs as a job split by region (the whole country takes longer
than a request), and the job's page shows the report. The CSV of the changed households is read from that
finished job, by the user who ran it.
"""

from __future__ import annotations

import csv
import io

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from modules.means_test.simulation import CSV_COLUMNS, HouseholdChange, check_inputs, parse_number
from modules.means_test.simulation_tasks import simulate_national, start_simulation
from modules.registration.operations import today
from rules.pack import Pack, PackError, Version, get_pack, pack_ids
from webapp import audit
from webapp.auth.permissions import require
from webapp.extensions import db
from webapp.models import Job, JobStatus

MAX_DRAFT_BYTES = 512 * 1024
PARAM_PREFIX = "param-"


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

    def start(self) -> str | None:
        """Queue the simulation and return its job's id, or None with the problem recorded against the field it
        concerns (the draft is checked before anything is queued)."""
        if self.errors:
            return None
        try:
            changes = check_inputs(self.pack.id, self.changes, self.draft_text)
        except PackError as error:
            field = "draft_file" if self.draft_text is not None else "_form"
            self.errors.setdefault(field, []).append(_pack_problem(self.pack, error))
            return None
        return start_simulation(current_user, self.pack.id, changes, self.draft_text, language=_language(),
                                labels={name: _parameter_label(self.pack, name) for name in changes})


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


def _parameter_label(pack: Pack, name: str) -> str:
    return pack.label(name, _language())


@require("policy.simulate")
def simulate_page():
    inputs = _Inputs(request.values if request.method == "POST" else request.args, request.files)
    # Only a POST starts a job; a GET (a bookmarked simulation too) shows the form filled in.
    job_id = inputs.start() if request.method == "POST" else None
    if job_id is not None:
        return redirect(url_for("core.job_detail", job_id=job_id))
    return render_template("means_test/simulate.html", inputs=inputs, packs=pack_ids(), prefix=PARAM_PREFIX,
                           reference_date=today()), 422 if inputs.errors else 200


@require("policy.simulate")
def simulate_csv():
    """The changed households of a finished simulation job, for the user who ran it."""
    job = db.session.get(Job, request.values.get("job") or "")
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
