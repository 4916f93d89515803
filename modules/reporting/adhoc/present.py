"""An ad hoc report's figures as the reader sees them: a table with every value named in their language, and a
chart (a line over the months when the months are a breakdown, bars otherwise) with the table of its own numbers.

The page and the exports read the same `Table`, so that a file holds exactly what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup

from modules.reporting import summary
from modules.reporting.adhoc.operations import Definition, months_between
from modules.reporting.dimensions import Labels
from modules.reporting.exports.labels import format_value, unit_name
from modules.reporting.indicators import by_code
from modules.reporting.svg import bar_chart, line_chart

MAX_BARS = 30
MAX_SERIES = 6  # the line chart's distinct styles
_ORDERED = {"age_band": [band for band, _years in summary.AGE_BANDS], "sex": ["F", "M"]}
# Reasons are of several kinds; each indicator that fills the column says which.
_REASON_INDICATORS = ("new_entrants", "exits", "cases_received", "cases_resolved", "cases_overdue",
                      "refusal_reasons")


@dataclass(frozen=True)
class Column:
    code: str
    name: str
    unit: str  # the indicators file's unit code
    unit_name: str
    definition: str


@dataclass
class Table:
    dimensions: list[str]
    headings: list[str]  # the breakdowns' names
    columns: list[Column]  # the indicators
    keys: list[tuple]  # each row's codes, as summary.query gives them
    labels: list[list[str]]  # each row's breakdown values in words
    values: list[list[object]]  # each row's figures (None where an indicator has none)
    language: str

    def formatted(self, row: int) -> list[str]:
        return [format_value(value, column.unit, self.language) if value is not None else "–"
                for value, column in zip(self.values[row], self.columns, strict=True)]

    def __len__(self) -> int:
        return len(self.keys)


def columns(indicators, labels: Labels) -> list[Column]:
    registry = by_code()
    language = labels.language
    with labels.speaking():
        return [Column(code, registry[code].name_in(language), registry[code].unit,
                       _("UZS") if registry[code].unit == "UZS" else unit_name(registry[code].unit),
                       registry[code].definition_in(language)) for code in indicators]


def _reason_indicator(values: dict) -> str | None:
    return next((code for code in _REASON_INDICATORS if code in values), None)


def _order(dimension: str, code, label: str):
    """Months in time, age bands and household sizes in their order, names alphabetically; None last."""
    if code is None:
        return (1, 0, "")
    if dimension in _ORDERED:
        return (0, _ORDERED[dimension].index(code) if code in _ORDERED[dimension] else 99, str(code))
    if dimension in ("period", "household_size"):
        return (0, 0, f"{int(code):04d}" if dimension == "household_size" else str(code))
    return (0, 0, label.casefold())


def table(definition: Definition, found: list[dict], labels: Labels) -> Table:
    dimensions = definition.dimensions
    cols = columns(definition.indicators, labels)
    rows = []
    for item in found:
        reason_of = _reason_indicator(item["values"])
        keys = tuple(item[d] for d in dimensions)
        words = [labels.value(d, item[d], reason_of) for d in dimensions]
        rows.append((tuple(_order(d, k, w) for d, k, w in zip(dimensions, keys, words, strict=True)), keys, words,
                     [item["values"].get(column.code) for column in cols]))
    rows.sort(key=lambda row: row[0])
    return Table(dimensions, [labels.dimension(d) for d in dimensions], cols, [row[1] for row in rows],
                 [row[2] for row in rows], [row[3] for row in rows], labels.language)


@dataclass
class Chart:
    svg: Markup
    title: str
    label_heading: str  # the chart table's first column
    headings: list[str]  # its other columns
    rows: list[tuple[str, list[str]]]  # (label, formatted values)
    note: str | None = None


def chart(report: Table, labels: Labels) -> Chart | None:
    """The report's first indicator drawn: over the months as lines (one per value of the other breakdown, or per
    indicator of the same unit), otherwise as bars (the largest first unless the breakdown has an order of its
    own; grouped by the first breakdown when there are two)."""
    if not len(report) or not report.columns:
        return None
    first = report.columns[0]

    def fmt(value):
        return format_value(value, first.unit, report.language)

    def axis(value):  # whole amounts on the axis need no tiyin
        whole = first.unit == "UZS" and float(value).is_integer()
        return format_value(value, "people" if whole else first.unit, report.language)

    if "period" in report.dimensions:
        return _lines(report, labels, first, fmt, axis)
    return _bars(report, first, fmt, axis)


def repeats(report: Table, figure: Chart | None) -> bool:
    """Whether the chart's table would say what the report's table says (one indicator, one breakdown at most,
    every row drawn): the page then shows the report's table beside the chart, once."""
    return figure is not None and len(report.columns) == 1 and len(report.dimensions) <= 1 and not figure.note


def _short(text: str, length: int) -> str:
    """A name short enough for the chart's 400 units; the chart's table beside it has it whole."""
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def _same_unit(report: Table, first: Column) -> list[int]:
    return [index for index, column in enumerate(report.columns) if column.unit == first.unit]


def _lines(report: Table, labels: Labels, first: Column, fmt, axis) -> Chart:
    at = report.dimensions.index("period")
    other = 1 - at if len(report.dimensions) == 2 else None
    months = months_between(min(key[at] for key in report.keys), max(key[at] for key in report.keys))
    month_words = {month: labels.value("period", month) for month in months}
    series: dict[str, dict[str, object]] = {}
    if other is None:
        for index in _same_unit(report, report.columns[0]):
            name = report.columns[index].name
            series[name] = {key[at]: values[index] for key, values in zip(report.keys, report.values, strict=True)}
        title = _("%(indicator)s by month", indicator=", ".join(series))
    else:
        for key, words, values in zip(report.keys, report.labels, report.values, strict=True):
            if values[0] is not None:
                series.setdefault(words[other], {})[key[at]] = values[0]
        title = _("%(indicator)s by month and %(dimension)s", indicator=first.name,
                  dimension=report.headings[other].lower())
    note = None
    if len(series) > MAX_SERIES:
        kept = sorted(series, key=lambda name: -sum(float(v or 0) for v in series[name].values()))[:MAX_SERIES]
        series = {name: series[name] for name in series if name in kept}
        note = _("The chart shows the %(num)d largest; the table below has them all.", num=MAX_SERIES)
    points = {_short(name, 34): [(month_words[month], values.get(month)) for month in months]
              for name, values in series.items()}
    svg = line_chart(points, title=title, number_format=axis, id="adhoc-chart")
    rows = [(month_words[month], [fmt(values[month]) if values.get(month) is not None else "–"
                                  for values in series.values()]) for month in months]
    return Chart(svg, title, labels.dimension("period"), list(series), rows, note)


def _bars(report: Table, first: Column, fmt, axis) -> Chart | None:
    dimensions = report.dimensions
    ordered = bool(dimensions) and dimensions[0] in (*_ORDERED, "household_size")
    note = None
    if not dimensions:
        bars = [(report.columns[index].name, report.values[0][index]) for index in _same_unit(report, first)]
        title = ", ".join(name for name, _value in bars)
        heading, headings = _("Indicator"), [_("Value")]
        rows = [(name, [fmt(value) if value is not None else "–"]) for name, value in bars]
    else:
        bars = [(" · ".join(words), values[0]) for words, values in zip(report.labels, report.values, strict=True)
                if values[0] is not None]
        title = _("%(indicator)s by %(dimension)s", indicator=first.name,
                  dimension=" · ".join(heading.lower() for heading in report.headings))
        if len(dimensions) == 1 and not ordered:
            bars.sort(key=lambda bar: -float(bar[1]))
        if len(bars) > MAX_BARS:
            note = (_("The chart shows the first %(num)d; the table below has them all.", num=MAX_BARS)
                    if len(dimensions) == 2 or ordered else
                    _("The chart shows the %(num)d largest; the table below has them all.", num=MAX_BARS))
            bars = bars[:MAX_BARS]
        heading, headings, rows = _chart_table(report, first, fmt)
    if not bars:
        return None
    svg = bar_chart([(_short(name, 40), float(value) if value is not None else None) for name, value in bars],
                    title=title, number_format=axis, no_data_label=_("no data"), id="adhoc-chart")
    return Chart(svg, title, heading, headings, rows, note)


def _chart_table(report: Table, first: Column, fmt) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    """The chart's figures: one column for one breakdown; the second breakdown's values across for two."""
    if len(report.dimensions) == 1:
        return report.headings[0], [first.name], [(words[0], [fmt(values[0]) if values[0] is not None else "–"])
                                                   for words, values in zip(report.labels, report.values,
                                                                            strict=True)]
    across: dict[str, tuple] = {}
    cells: dict[str, dict[str, object]] = {}
    for key, words, values in zip(report.keys, report.labels, report.values, strict=True):
        across.setdefault(words[1], _order(report.dimensions[1], key[1], words[1]))
        cells.setdefault(words[0], {})[words[1]] = values[0]
    columns = sorted(across, key=lambda word: across[word])
    rows = [(row, [fmt(found[column]) if found.get(column) is not None else "–" for column in columns])
            for row, found in cells.items()]
    return report.headings[0], columns, rows
