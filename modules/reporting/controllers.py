"""Staff pages of the monthly return: the list of frozen months, the month's dashboard with its map, the downloads.

Thin views: the figures are the frozen return's own (operations.latest), cut down to the reader's regions here
because a return is stored once for the whole country. Freezing goes through operations.freeze; the request's
boundary commits it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from modules.reporting import breakdowns, dashboard, exports, month, operations
from modules.reporting.exports.labels import LANGUAGES, format_value, unit_name
from modules.reporting.indicators import by_code
from modules.reporting.models import MonthlyReturn
from modules.reporting.svg import bar_chart, choropleth
from modules.reporting.svg.map import region_codes
from webapp import audit
from webapp.auth.permissions import has_permission, require
from webapp.auth.scope import areas_in_scope
from webapp.boundary import Refusal, caught_refusal
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.models.area import AreaLevel

# The month's figures at the top of the dashboard, in this order.
HEADLINES = ("beneficiaries", "beneficiary_households", "amount_approved", "amount_paid", "amount_failed",
             "amount_returned", "applications_received", "applications_decided", "cases_overdue")
_FORMAT_NAMES = {"xlsx": _l("Spreadsheet (XLSX)"), "pdf": _l("Document (PDF)"), "csv": _l("Table (CSV)")}
# Figures that add up across regions; a median, a percentile or a share does not.
_ADDITIVE = {"people", "households", "applications", "cases", "certificates", "UZS"}
_MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "pdf": "application/pdf", "csv": "text/csv"}  # Flask adds the charset to text types


def _language() -> str:
    language = str(get_locale() or "uz")
    return language if language in LANGUAGES else "uz"


def _visible_regions(user) -> set[str] | None:
    """The region codes whose rows the user may read; None for all (national scope)."""
    if user.national_scope:
        return None
    return {area.code for area in areas_in_scope(user, AreaLevel.region)}


def _cut(data: dict, regions: set[str] | None) -> dict:
    """The return's figures kept to `regions`: rows of other regions (and rows with no region) dropped, totals
    summed again from what is left where the unit adds up, and left out where it does not."""
    if regions is None:
        return data
    indicators = {}
    for code, figures in data["indicators"].items():
        rows = [row for row in figures["rows"] if row.get("region") in regions]
        total = (month.number(sum(_number(row["value"]) for row in rows)) if figures["unit"] in _ADDITIVE
                 else None)
        indicators[code] = {**figures, "rows": rows, "total": total}
    return {**data, "indicators": indicators, "breakdowns": breakdowns.cut(data.get("breakdowns") or {}, regions)}


def _number(value):
    return value if isinstance(value, int | float) else month.number(value) if value is not None else 0


@dataclass
class _Return:
    """What the exports read from a frozen return, with the figures cut to the reader's regions."""

    period: str
    version: int
    computed_at: object
    code_version: str
    data: dict
    reconciliation: dict


def _readable(row: MonthlyReturn, regions: set[str] | None) -> _Return:
    reconciliation = row.reconciliation or {"ok": True, "differences": []}
    if regions is not None:
        differences = [d for d in reconciliation.get("differences") or [] if d.get("region") in regions]
        reconciliation = {"ok": not differences, "differences": differences}
    return _Return(row.period, row.version, row.computed_at, row.code_version, _cut(row.data, regions),
                   reconciliation)


def _names(language: str) -> dict:
    """Programme and region names in `language` for the page, the map and the exports."""
    regions = db.session.scalars(select(Area).where(Area.level == AreaLevel.region)).all()
    return {"programmes": {p.code: getattr(p, f"name_{language}", None) or p.name_uz
                           for p in db.session.scalars(select(Programme)).all()},
            "regions": {area.code: getattr(area, f"name_{language}", None) or area.name_uz for area in regions}}


def _period_or_404(period: str) -> str:
    try:
        month.month_bounds(period)
    except ValueError:
        abort(404)
    return period


def _previous(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


@require("report.view")
def report_list():
    latest_versions = (select(MonthlyReturn.period, func.max(MonthlyReturn.version).label("version"))
                       .group_by(MonthlyReturn.period).subquery())
    rows = db.session.scalars(select(MonthlyReturn).join(
        latest_versions, (MonthlyReturn.period == latest_versions.c.period)
        & (MonthlyReturn.version == latest_versions.c.version)).order_by(MonthlyReturn.period.desc())).all()
    regions = _visible_regions(current_user)
    returns = [(row, _readable(row, regions).reconciliation) for row in rows]
    return render_template("reporting/list.html", returns=returns, period=request.args.get("period", ""),
                           can_freeze=has_permission(current_user, "report.freeze"))


@require("report.freeze")
def report_freeze():
    period = (request.form.get("period") or "").strip()
    with caught_refusal():
        try:
            month.month_bounds(period)
        except ValueError:
            raise Refusal(_l("The period must be a month written YYYY-MM, e.g. 2026-01.")) from None
        row = operations.freeze(period, current_user)
        if not operations.has_data(row.data):
            raise Refusal(_l("There is no data for %(period)s.", period=period))
        return redirect(url_for("reporting.report_dashboard", period=period))
    return redirect(url_for("reporting.report_list", period=period[:7]))


def _format(language: str):
    def formatter(unit: str):
        return lambda value: format_value(value, unit, language)
    return formatter


@require("report.view")
def report_dashboard(period: str):
    _period_or_404(period)
    row = operations.latest(period)
    if row is None:
        abort(404)
    language = _language()
    regions = _visible_regions(current_user)
    figures = _readable(row, regions)
    before = operations.latest(_previous(period))
    previous = _readable(before, regions) if before is not None else None
    registry = by_code()
    names = _names(language)
    indicators = figures.data["indicators"]
    fmt = _format(language)

    headlines = []
    for code in HEADLINES:
        if code not in indicators:
            continue
        unit = indicators[code]["unit"]
        total = indicators[code]["total"]
        change = None
        if previous is not None and code in previous.data["indicators"]:
            earlier = previous.data["indicators"][code]["total"]
            if total is not None and earlier is not None:
                change = _number(total) - _number(earlier)
        headlines.append({"code": code, "name": registry[code].name_in(language) if code in registry else code,
                          "unit": _("UZS") if unit == "UZS" else unit_name(unit), "value": fmt(unit)(total),
                          "change": None if change is None else ("+" if change > 0 else "") + fmt(unit)(change)})

    beneficiaries = indicators.get("beneficiaries", {"rows": [], "unit": "people"})
    by_region: dict[str, float] = {}
    by_programme: dict[str, float] = {}
    for item in beneficiaries["rows"]:
        value = float(_number(item["value"]))
        if item.get("region"):
            by_region[item["region"]] = by_region.get(item["region"], 0) + value
        if item.get("programme"):
            by_programme[item["programme"]] = by_programme.get(item["programme"], 0) + value
    people = fmt("people")
    region_names = names["regions"]
    programme_names = names["programmes"]
    beneficiaries_name = registry["beneficiaries"].name_in(language) if "beneficiaries" in registry else ""
    map_svg = choropleth(
        {code: by_region.get(code, 0 if regions is None or code in regions else None) for code in region_codes()},
        title=_("%(indicator)s by region", indicator=beneficiaries_name), legend_title=beneficiaries_name,
        link=lambda code: url_for("reporting.report_dashboard", period=period, region=code) + "#drill-down",
        names=region_names, number_format=people, no_data_label=_("no data"))
    map_rows = [(region_names.get(code, code), people(by_region.get(code, 0)))
                for code in sorted(by_region, key=lambda c: region_names.get(c, c))]
    programme_rows = sorted(((programme_names.get(code, code), value) for code, value in by_programme.items()),
                            key=lambda item: (-item[1], item[0]))
    bars = bar_chart(programme_rows, title=_("%(indicator)s by programme", indicator=beneficiaries_name),
                     number_format=people, no_data_label=_("no data")) if programme_rows else None

    region = request.args.get("region")
    drill = None
    if region in region_codes() and (regions is None or region in regions):
        drill = _drill_down(indicators, region, registry, language, programme_names)
    sections = dashboard.sections(period, regions, language, registry, names, region if drill is not None else None)

    differences = [{"programme": programme_names.get(d.get("programme"), d.get("programme") or ""),
                    "region": region_names.get(d.get("region"), d.get("region") or ""),
                    "what": registry[d["what"]].name_in(language) if d.get("what") in registry else d.get("what"),
                    "reported": fmt("UZS")(d.get("reported")), "source": fmt("UZS")(d.get("source")),
                    "difference": fmt("UZS")(d.get("difference"))}
                   for d in figures.reconciliation.get("differences") or []]
    downloads = [(code, [(_FORMAT_NAMES[kind], url_for("reporting.report_download", period=period, fmt=kind,
                                                       language=code)) for kind in exports.FORMATS])
                 for code in LANGUAGES]
    return render_template(
        "reporting/dashboard.html", row=row, previous=before, headlines=headlines, map_svg=map_svg,
        map_rows=map_rows, bars=bars, programme_rows=[(name, people(value)) for name, value in programme_rows],
        beneficiaries_name=beneficiaries_name, drill=drill, region_name=region_names.get(region, region),
        reconciled=figures.reconciliation.get("ok", True), differences=differences, downloads=downloads,
        summary=sections, language_names={"uz": "Oʻzbekcha", "ru": "Русский", "en": "English"})


def _drill_down(indicators: dict, region: str, registry: dict, language: str, programme_names: dict) -> dict:
    """The region's rows by programme for the indicators that break down by programme."""
    fmt = _format(language)
    columns = [code for code in HEADLINES if code in indicators and "programme" in
               (registry[code].dimensions if code in registry else ())]
    table: dict[str, dict[str, object]] = {}
    for code in columns:
        for item in indicators[code]["rows"]:
            if item.get("region") == region and item.get("programme"):
                cell = table.setdefault(item["programme"], {})
                cell[code] = _number(cell.get(code, 0)) + _number(item["value"])
    return {"columns": [(code, registry[code].name_in(language)) for code in columns],
            "rows": [(programme_names.get(programme, programme),
                      [fmt(indicators[code]["unit"])(cells.get(code, 0)) for code in columns])
                     for programme, cells in sorted(table.items(), key=lambda i: programme_names.get(i[0], i[0]))]}


@require("report.view")
def report_download(period: str, fmt: str):
    _period_or_404(period)
    row = operations.latest(period)
    if row is None:
        abort(404)
    language = request.args.get("language") or _language()
    if language not in LANGUAGES:
        language = "uz"
    publication = request.args.get("publication") in ("1", "true", "on")
    stream = io.BytesIO()
    exports.write(_readable(row, _visible_regions(current_user)), fmt, stream, language, publication,
                  names=_names(language))
    audit.record("report.downloaded", "monthly_return", row.id,
                 {"period": period, "version": row.version, "format": fmt, "language": language,
                  "publication": publication})
    stream.seek(0)
    suffix = "-publication" if publication else ""
    return send_file(stream, mimetype=_MIMETYPES[fmt], as_attachment=True,
                     download_name=f"monthly-return-{period}-v{row.version}-{language}{suffix}.{fmt}")

