"""The parts of the month's dashboard read from the reporting summary: the trends over twelve months, the
programmes by region, a region's districts and who is paid (sex and age, household size, why people came in or
left). Plain functions returning what the template shows, every figure already formatted and every code already
worded in the reader's language.

The summary is small (a few thousand rows a month), so each section is one or two `summary.query` calls however many
rows it shows; a month whose summary was never built shows a note instead, the page does not build it.
"""

from __future__ import annotations

from datetime import date

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from modules.reporting import summary
from modules.reporting.dimensions import Labels
from modules.reporting.exports.labels import format_value
from modules.reporting.svg import bar_chart, line_chart
from webapp.timeutil import month_of

MONTHS = 12
# The charts of the twelve months: (id, title, indicators, unit); a chart of one indicator is titled by its name.
# Amounts are drawn in millions so that the axis stays readable at 320 px; their tables give them in full.
TRENDS = (
    ("beneficiaries", None, ("beneficiaries",), "people"),
    ("amounts", _l("Amounts approved and paid, million UZS"), ("amount_approved", "amount_paid"), "UZS"),
    ("applications", _l("Applications received and decided"), ("applications_received", "applications_decided"),
     "applications"),
    ("cases", None, ("cases_overdue",), "cases"),
)
DISTRICT_COLUMNS = (("beneficiaries", "people"), ("beneficiary_households", "households"),
                    ("amount_approved", "UZS"), ("amount_paid", "UZS"), ("cases_overdue", "cases"))
CROSS_COLUMNS = (("beneficiaries", "people"), ("amount_paid", "UZS"))


def _formatter(language: str):
    return lambda unit: (lambda value: format_value(value, unit, language))


def months_ending(period: str, count: int = MONTHS) -> list[str]:
    first = date.fromisoformat(f"{period}-01")
    return [month_of(first, shift) for shift in range(1 - count, 1)]


def ready(period: str) -> bool:
    """Whether the month's summary has been built at least once."""
    return summary.refreshed_at(period) is not None


def _name(registry: dict, code: str, language: str) -> str:
    return registry[code].name_in(language) if code in registry else code


def trends(period: str, regions, language: str, registry: dict) -> list[dict]:
    """The four charts of the twelve months ending with `period`, each with its table: [{"id", "title", "svg",
    "columns", "rows": [(month, [formatted values])]}]. A month with no figures (its summary never built, or
    nothing in it) is a gap in the line and a dash in the table, not a zero."""
    months = months_ending(period)
    codes = [code for _id, _title, indicators, _unit in TRENDS for code in indicators]
    found = {row["period"]: row["values"] for row in summary.query(codes, ["period"], months[0], months[-1],
                                                                  regions=regions)}
    known = set(found)  # a month never built has no rows either
    fmt = _formatter(language)
    charts = []
    for chart_id, title, indicators, unit in TRENDS:
        title = str(title) if title is not None else _name(registry, indicators[0], language)
        values = {code: {month: found[month].get(code, 0) if month in known else None for month in months}
                  for code in indicators}
        scale = 1_000_000 if unit == "UZS" else 1
        series = {_name(registry, code, language): [(month, None if value is None else value / scale)
                                                     for month, value in values[code].items()]
                  for code in indicators}
        axis = (lambda value: fmt("people")(round(value, 1))) if scale > 1 else fmt(unit)
        rows = [(month, [fmt(unit)(values[code][month]) if values[code][month] is not None else "–"
                         for code in indicators]) for month in months]
        charts.append({"id": chart_id, "title": title, "columns": list(series), "rows": rows,
                       "svg": line_chart(series, title=title, number_format=axis, id=f"trend-{chart_id}")})
    return charts


def programmes_by_region(period: str, regions, language: str, registry: dict, names: dict) -> dict:
    """Beneficiaries and amount paid, programmes across and regions down, with totals; each region links to its
    drill-down. People in two programmes count once in their region's total (the summary's rows over all
    programmes), amounts add up."""
    codes = [code for code, _unit in CROSS_COLUMNS]
    cells = {(row["programme"], row["region"]): row["values"]
             for row in summary.query(codes, ["programme", "region"], period, period, regions=regions)}
    totals = {row["region"]: row["values"] for row in summary.query(codes, ["region"], period, period,
                                                                    regions=regions)}
    programmes = sorted({programme for programme, _region in cells if programme},
                        key=lambda code: names["programmes"].get(code, code))
    # Every region the reader may see has its row, the ones with nothing in the month too.
    visible = set(names["regions"]) if regions is None else set(regions)
    shown = sorted(visible | {region for region in totals if region}, key=lambda code: names["regions"].get(code, code))
    fmt = _formatter(language)

    def figures(values_of) -> list[str]:
        return [fmt(unit)(values_of.get(code, 0)) if values_of else "–" for code, unit in CROSS_COLUMNS]

    rows = [{"name": names["regions"].get(region, region),
             "url": url_for("reporting.report_dashboard", period=period, region=region) + "#drill-down",
             "cells": [figures(cells.get((programme, region))) for programme in programmes],
             "total": figures(totals.get(region))} for region in shown]
    column_total = []
    for programme in programmes:
        column = [values for (code, _region), values in cells.items() if code == programme]
        column_total.append(figures({code: sum(values.get(code, 0) for values in column) for code in codes}))
    grand = {code: sum(values.get(code, 0) for values in totals.values()) for code in codes}
    return {"programmes": [names["programmes"].get(code, code) for code in programmes],
            "figures": [_name(registry, code, language) for code, _unit in CROSS_COLUMNS], "rows": rows,
            "totals": column_total, "total": figures(grand) if totals else figures(None)}


def districts(period: str, region: str, regions, language: str, registry: dict) -> dict:
    """The region's districts in the month: a table of the district figures with the region's total, and a bar
    chart of beneficiaries by district. Figures recorded against the region itself (a case filed at the regional
    office) are a row of their own."""
    codes = [code for code, _unit in DISTRICT_COLUMNS]
    found = summary.query(codes, ["district"], period, period, filters={"region": [region]}, regions=regions)
    labels = Labels(language)
    fmt = _formatter(language)

    def label(code) -> str:
        return labels.value("district", code) if code else _("The region itself, not a district")

    ordered = sorted(found, key=lambda row: (row["district"] is None, label(row["district"])))
    rows = [(label(row["district"]), [fmt(unit)(row["values"].get(code, 0)) for code, unit in DISTRICT_COLUMNS])
            for row in ordered]
    total = [fmt(unit)(sum(row["values"].get(code, 0) for row in found)) for code, unit in DISTRICT_COLUMNS]
    bars = sorted(((label(row["district"]), row["values"]["beneficiaries"]) for row in found
                   if row["district"] and row["values"].get("beneficiaries")), key=lambda item: (-item[1], item[0]))
    beneficiaries = _name(registry, "beneficiaries", language)
    chart = bar_chart(bars, title=_("%(indicator)s by district", indicator=beneficiaries), id="bar-districts",
                      number_format=fmt("people"), no_data_label=_("no data")) if bars else None
    return {"columns": [_name(registry, code, language) for code in codes], "rows": rows,
            "total": total if found else None, "chart": chart}


def _by_sex_and_age(period: str, regions, labels: Labels, people) -> dict:
    """Age bands down, the sexes across, with totals both ways."""
    found = {(row["sex"], row["age_band"]): row["values"]["beneficiaries"]
             for row in summary.query(["beneficiaries"], ["sex", "age_band"], period, period, regions=regions)}
    sexes = sorted({sex for sex, _band in found}, key=lambda sex: (sex is None, sex or ""))
    bands = [band for band, _years in summary.AGE_BANDS]
    bands += sorted({band for _sex, band in found if band not in bands}, key=lambda band: (band is None, band or ""))
    rows = [(labels.value("age_band", band), [people(found.get((sex, band), 0)) for sex in sexes]
             + [people(sum(found.get((sex, band), 0) for sex in sexes))])
            for band in bands if any((sex, band) in found for sex in sexes)]
    total = [people(sum(value for (sex_of, _band), value in found.items() if sex_of == sex)) for sex in sexes]
    return {"columns": [labels.value("sex", sex) for sex in sexes], "rows": rows,
            "total": [*total, people(sum(found.values()))] if found else None}


def _by_household_size(period: str, regions, labels: Labels, people, names: tuple[str, str]) -> dict:
    """People and households by the household's size, and a bar chart of the people."""
    found = summary.query(["beneficiaries", "beneficiary_households"], ["household_size"], period, period,
                          regions=regions)
    found.sort(key=lambda row: (row["household_size"] is None, row["household_size"] or 0))
    sizes = [(labels.value("household_size", row["household_size"]), row["values"].get("beneficiaries", 0),
              row["values"].get("beneficiary_households", 0)) for row in found]
    chart = bar_chart([(size, count) for size, count, _households in sizes],
                      title=_("%(indicator)s by household size", indicator=names[0]), id="bar-household-size",
                      number_format=people, no_data_label=_("no data")) if sizes else None
    return {"columns": list(names), "rows": [(size, [people(count), people(households)])
                                             for size, count, households in sizes], "chart": chart}


def _by_reason(found: list[dict], indicator: str, reasons, labels: Labels, people, title: str) -> dict:
    counts = {row["reason"]: row["values"][indicator] for row in found if indicator in row["values"]}
    order = [*reasons, *sorted((reason for reason in counts if reason not in reasons), key=str)]
    return {"title": title, "rows": [(labels.value("reason", reason, indicator), people(counts[reason]))
                                     for reason in order if reason in counts],
            "total": people(sum(counts.values())) if counts else None}


def who_is_paid(period: str, regions, language: str, registry: dict) -> dict:
    """The month's beneficiaries by sex and age band and by household size, and the people who came in and who
    left, by why: four summary queries."""
    people = _formatter(language)("people")
    labels = Labels(language)
    moves = summary.query(["new_entrants", "exits"], ["reason"], period, period, regions=regions)
    households = (_name(registry, "beneficiaries", language), _name(registry, "beneficiary_households", language))
    return {"ages": _by_sex_and_age(period, regions, labels, people),
            "sizes": _by_household_size(period, regions, labels, people, households),
            "moves": [_by_reason(moves, code, reasons, labels, people, _name(registry, code, language))
                      for code, reasons in (("new_entrants", summary.ENTRY_REASONS),
                                            ("exits", summary.EXIT_REASONS))]}


def sections(period: str, regions, language: str, registry: dict, names: dict, region: str | None) -> dict:
    """Everything the dashboard reads from the summary; `region` (a visible region or None) adds its districts."""
    if not ready(period):
        return {"ready": False}
    return {"ready": True, "trends": trends(period, regions, language, registry),
            "by_region": programmes_by_region(period, regions, language, registry, names),
            "districts": districts(period, region, regions, language, registry) if region else None,
            "who": who_is_paid(period, regions, language, registry)}
