"""The return as an A4 PDF (WeasyPrint): the title block, each indicator's table with a bar chart by region, the
reconciliation and the definitions, with page numbers; DejaVu Sans has the Cyrillic and Uzbek letters."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from jinja2 import FileSystemLoader
from markupsafe import Markup, escape

from modules.reporting.exports import labels
from modules.reporting.exports.breakdown_tables import BreakdownTable, breakdown_tables
from modules.reporting.exports.tables import SUPPRESSED, Table, tables

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "reporting/return_pdf.html"


def write(monthly_return, path_or_stream, language: str, publication: bool, names: labels.Names) -> None:
    from weasyprint import HTML

    html = render_html(monthly_return, language, publication, names)
    HTML(string=html, base_url=str(TEMPLATES)).write_pdf(path_or_stream)


def render_html(monthly_return, language: str, publication: bool, names: labels.Names) -> str:
    # The application's environment (its gettext and filters) reading this module's templates directly: the PDF
    # is made by jobs and commands too, outside any request, and shows nothing of the session.
    environment = current_app.jinja_env.overlay(loader=FileSystemLoader(str(TEMPLATES)))
    reconciliation = monthly_return.reconciliation or {}
    indicators = (monthly_return.data or {}).get("indicators", {})
    return environment.get_template(TEMPLATE).render(
        language=language, title=labels.title(), period=monthly_return.period, version=monthly_return.version,
        computed_at=monthly_return.computed_at.strftime("%Y-%m-%d %H:%M") if monthly_return.computed_at else "",
        code_version=monthly_return.code_version or "", status=labels.status(publication),
        suppression_note=labels.suppression_note() if publication else "",
        tables=[_table(table, language, names) for table in tables(monthly_return.data or {}, publication)],
        breakdowns=[_breakdown(table, language) for table in breakdown_tables(monthly_return.data or {},
                                                                              publication, names)],
        reconciled=labels.reconciled(bool(reconciliation.get("ok"))), ok=bool(reconciliation.get("ok")),
        differences=[{**difference, "programme": names.programme(difference.get("programme")),
                      "region": names.region(difference.get("region")),
                      "what": names.indicator(difference.get("what") or "")}
                     for difference in reconciliation.get("differences") or []],
        definitions=[{"code": code, "name": names.indicator(code), "definition": names.definition(code),
                      "unit": labels.unit_name(indicators[code].get("unit", ""))} for code in indicators])


def _table(table: Table, language: str, names: labels.Names) -> dict:
    def show(value):
        return labels.format_value(value, table.unit, language)

    return {
        "code": table.code,
        "name": names.indicator(table.code),
        "unit": labels.unit_name(table.unit),
        "columns": [names.column(table, code) for code in table.columns],
        "rows": [{"region": names.region(region),
                  "values": [show(table.value(region, programme)) for programme in table.columns],
                  "total": show(table.row_totals.get(region))} for region in table.rows],
        "column_totals": [show(table.column_totals.get(programme)) for programme in table.columns],
        "total": show(table.total),
        "suppressed": SUPPRESSED,
        "chart": chart(names.indicator(table.code),
                       [(names.region(region), value) for region, value in table.region_totals()], show),
    }


def _breakdown(table: BreakdownTable, language: str) -> dict:
    units = [unit for _name, unit in table.columns]
    return {"title": table.title, "key_names": table.keys,
            "columns": [f"{name} ({labels.unit_name(unit)})" for name, unit in table.columns],
            "rows": [(keys, [labels.format_value(value, unit, language) for value, unit in zip(values, units,
                                                                                              strict=True)])
                     for keys, values in table.rows]}


def chart(title: str, items: list[tuple[str, object]], show) -> Markup:
    """The bar chart by region: the dashboards' chart when the module is there, else the plain one below."""
    try:
        from modules.reporting.svg.charts import bar_chart as shared_bar_chart
    except ImportError:
        return bar_chart(items, show)
    if not any(value is not None for _name, value in items):
        return Markup("")
    return shared_bar_chart([(name, None if value is None else float(value)) for name, value in items],
                            title=title, number_format=show, max_width=360)


def bar_chart(items: list[tuple[str, object]], label=str, width: int = 480) -> Markup:
    """Horizontal bars, one per (name, value), as inline SVG; values that are not numbers get no bar."""
    numbers = [value for _name, value in items if isinstance(value, int | float) or hasattr(value, "is_finite")]
    if not numbers:
        return Markup("")
    largest = max((float(value) for value in numbers), default=0) or 1.0
    bar, gap, name_width, value_width = 14, 6, 150, 80
    room = width - name_width - value_width
    height = len(items) * (bar + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-family="DejaVu Sans" font-size="9">']
    for index, (name, value) in enumerate(items):
        y = gap + index * (bar + gap)
        text = escape(name if len(name) <= 28 else name[:27] + "…")
        parts.append(f'<text x="{name_width - 6}" y="{y + bar - 3}" text-anchor="end">{text}</text>')
        if value is None or value == SUPPRESSED or isinstance(value, str):
            continue
        length = max(0.0, float(value) / largest * room)
        parts.append(f'<rect x="{name_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="#3b6ea5"/>')
        parts.append(f'<text x="{name_width + length + 4:.1f}" y="{y + bar - 3}">{escape(label(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
