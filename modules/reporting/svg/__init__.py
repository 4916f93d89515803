"""Server-rendered SVG for the dashboards: a choropleth of the regions, bar and line charts.

Pure functions from plain data to an inline `<svg>` (Markup): no JavaScript, no outside fonts or files, the same
bytes for the same input. Every text shown comes from the caller, already translated.
"""

from modules.reporting.svg.charts import bar_chart, line_chart
from modules.reporting.svg.map import choropleth, classify

__all__ = ["bar_chart", "choropleth", "classify", "line_chart"]
