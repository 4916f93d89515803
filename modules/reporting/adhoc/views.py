"""The ad hoc reports page, its exports and the reader's saved reports.

The page is a GET form, so that a report is an address to share or bookmark; its figures are read within the
reader's scope. Saving and deleting are POSTs with the CSRF token. Views read the request through the schemas,
call operations and render; the request's boundary commits.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from modules.reporting import scope, summary
from modules.reporting.adhoc import export, operations, present
from modules.reporting.adhoc.operations import FILTERS, Definition
from modules.reporting.adhoc.schemas import ReportArgs, SaveArgs
from modules.reporting.dimensions import LANGUAGES, Labels, dimension_codes
from modules.reporting.indicators import by_code
from webapp.auth.permissions import require
from webapp.boundary import flatten_errors
from webapp.guard import InputRefused

MAX_SHOWN_ROWS = 1000  # rows of the table on the page; the exports have them all


def _address(definition: Definition, endpoint: str = "reporting.adhoc_report", **values) -> str:
    return f"{url_for(endpoint, **values)}?{urlencode(definition.params())}"


def _default(options) -> Definition:
    first, last = operations.default_months()
    return Definition(("beneficiaries",) if "beneficiaries" in options.indicators else options.indicators[:1],
                      "period", None, first, last, {})


def _read(options, args) -> tuple[Definition | None, dict[str, list[str]]]:
    """The report the address asks for (the default one when it asks for nothing), or the errors in it."""
    if not any(name in args for name in ("indicators", "rows", "columns", "first", "last", *FILTERS)):
        return _default(options), {}
    try:
        return ReportArgs(options).load(ReportArgs.args_of(args)), {}
    except ValidationError as error:
        return None, flatten_errors(error.messages)


def _stocks_note(definition: Definition, labels: Labels) -> str | None:
    """The stocks chosen, said to show their last month when the months are not a breakdown."""
    chosen = [code for code in definition.indicators if code in summary.STOCKS]
    if not chosen or "period" in definition.dimensions:
        return None
    return _("%(indicators)s: the figure of the last month of the range (%(month)s), as they count people or "
             "cases at a moment rather than over the months. Choose Month as a breakdown to see each month.",
             indicators=", ".join(column.name for column in present.columns(chosen, labels)),
             month=labels.value("period", definition.last))


def _months(definition: Definition, labels: Labels) -> str:
    first, last = labels.value("period", definition.first), labels.value("period", definition.last)
    return first if definition.first == definition.last else _("%(first)s to %(last)s", first=first, last=last)


def _settings(definition: Definition, labels: Labels, reach: scope.Reach, note: bool = True) -> list[tuple[str, str]]:
    """What the report is, in words: for the page's heading and the workbook."""
    registry = by_code()
    lines = [(_("Indicators"), ", ".join(registry[code].name_in(labels.language) for code in definition.indicators)),
             (_("Months of the report"), _months(definition, labels))]
    if definition.dimensions:
        lines.append((_("Breakdown"), ", ".join(labels.dimension(d) for d in definition.dimensions)))
    for name, values in definition.filters.items():
        lines.append((labels.dimension(name), ", ".join(labels.value(name, value) for value in values)))
    if not reach.national:
        lines.append((_("Scope"), _("Only the figures of your areas.")))
    stocks = _stocks_note(definition, labels) if note else None
    if stocks:
        lines.append((_("Note"), stocks))
    return lines


def _form(options, labels: Labels, reach: scope.Reach) -> dict:
    """The choices the form offers: indicators by name, breakdowns, filters within the reader's scope."""
    registry = by_code()
    regions = {code: labels.value("region", code) for code in options.regions if reach.keeps_region(code)}
    districts: dict[str, list[tuple[str, str]]] = {}
    for code, region in options.districts.items():
        if region in regions and reach.keeps_district(code, region):
            districts.setdefault(region, []).append((code, labels.value("district", code)))

    def by_name(pairs):
        return sorted(pairs, key=lambda pair: pair[1].casefold())

    return {
        "indicators": [(code, registry[code].name_in(labels.language)) for code in options.indicators],
        "dimensions": [(code, labels.dimension(code)) for code in summary.DIMENSIONS],
        "programme": by_name((code, labels.value("programme", code)) for code in options.programmes),
        "region": by_name(regions.items()),
        "district": [(regions[region], by_name(items)) for region, items in
                     sorted(districts.items(), key=lambda item: regions[item[0]].casefold())],
        **{name: [(str(code), labels.value(name, code)) for code in dimension_codes(name)]
           for name in ("sex", "age_band", "household_size")},
    }


def _chosen(definition: Definition | None, args) -> dict:
    """What the form shows as chosen: the report's definition, or what was sent when it could not be read."""
    if definition is not None:
        return {"indicators": set(definition.indicators), "rows": definition.rows or "",
                "columns": definition.columns or "", "first": definition.first, "last": definition.last,
                **{name: set(definition.filters.get(name, ())) for name in FILTERS}}
    return {"indicators": set(args.getlist("indicators")[:100]), "rows": args.get("rows", ""),
            "columns": args.get("columns", ""), "first": args.get("first", ""), "last": args.get("last", ""),
            **{name: set(args.getlist(name)[:300]) for name in FILTERS}}


@require("report.view")
def adhoc_report():
    labels = Labels()
    options = operations.choices()
    reach = scope.reach(current_user)
    definition, errors = _read(options, request.args)
    context = {"form": _form(options, labels, reach), "chosen": _chosen(definition, request.args), "errors": errors,
               "saved": [(row, f"{url_for('reporting.adhoc_report')}?{urlencode(_saved_params(options, row))}",
                          operations.moving_months(row.definition)) for row in operations.saved_reports(current_user)],
               "definition": definition, "report": None, "figure": None}
    if definition is None:
        flash(_("The report could not be made: see the messages beside the fields."), "error")
        return render_template("reporting/adhoc.html", **context), 400
    report = present.table(definition, operations.run(definition, reach), labels)
    figure = present.chart(report, labels)
    context.update(
        report=report, shown=[(report.labels[i], report.formatted(i)) for i in range(min(len(report),
                                                                                         MAX_SHOWN_ROWS))],
        figure=figure, same=present.repeats(report, figure), settings=_settings(definition, labels, reach, note=False),
        stocks_note=_stocks_note(definition, labels), params=definition.params(),
        exports=[(fmt, _address(definition, "reporting.adhoc_export", fmt=fmt)) for fmt in ("xlsx", "csv")],
        more=max(0, len(report) - MAX_SHOWN_ROWS),
        months_count=len(operations.months_between(definition.first, definition.last)),
        default_last=operations.default_months()[1])
    return render_template("reporting/adhoc.html", **context)


def _saved_params(options, row) -> list[tuple[str, str]]:
    try:
        return ReportArgs(options).load(Definition.args_of_json(row.definition)).params()
    except ValidationError:  # a saved report naming what no longer exists opens the form with its messages
        definition = Definition.args_of_json(row.definition)
        return [(key, str(item)) for key, value in definition.items() if value
                for item in (value if isinstance(value, list) else [value])]


@require("report.view")
def adhoc_export(fmt: str):
    language = request.args.get("language")
    labels = Labels(language if language in LANGUAGES else None)
    options = operations.choices()
    reach = scope.reach(current_user)
    definition, errors = _read(options, request.args)
    if definition is None:  # a 400 page saying what could not be read
        raise InputRefused(" ".join(message for messages in errors.values() for message in messages))
    found = operations.run(definition, reach)
    stream = io.BytesIO()
    with labels.speaking():
        report = present.table(definition, found, labels)
        if fmt == "xlsx":
            export.write_xlsx(report, stream, _settings(definition, labels, reach))
        else:
            export.write_csv(report, stream)
    operations.record_export(definition, fmt, labels.language, len(report))
    stream.seek(0)
    name = f"report-{definition.first}-{definition.last}-{labels.language}.{fmt}"
    return send_file(stream, mimetype=export.MIMETYPES[fmt], as_attachment=True, download_name=name)


@require("report.view")
def adhoc_save():
    options = operations.choices()
    back = url_for("reporting.adhoc_report")
    try:
        definition = ReportArgs(options).load(ReportArgs.args_of(request.form))
        saving = SaveArgs().load(request.form)
    except ValidationError as error:
        for messages in flatten_errors(error.messages).values():
            for message in messages:
                flash(message, "error")
        return redirect(f"{back}?{urlencode(_sent_params(request.form))}"), 303
    try:
        row, created = operations.save(current_user, saving["name"], definition, saving["moving"])
    except operations.TooManySaved:
        flash(ngettext("You can keep at most %(num)d saved report: delete one first.",
                       "You can keep at most %(num)d saved reports: delete one first.", operations.MAX_SAVED),
              "error")
        return redirect(_address(definition)), 303
    flash(_("Report saved as “%(name)s”.", name=row.name) if created
          else _("Report “%(name)s” replaced with this one.", name=row.name), "success")
    return redirect(_address(definition) + "#saved"), 303


def _sent_params(form) -> list[tuple[str, str]]:
    names = ("indicators", "rows", "columns", "first", "last", *FILTERS)
    return [(name, value[:200]) for name in names for value in form.getlist(name)[:300]]


@require("report.view")
def adhoc_delete(report_id: int):
    row = operations.delete_saved(current_user, report_id)
    if row is None:
        abort(404)
    flash(_("Saved report “%(name)s” deleted.", name=row.name), "success")
    return redirect(url_for("reporting.adhoc_report") + "#saved"), 303

