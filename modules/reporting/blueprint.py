"""URL map of the reports pages (routes in controllers.py, ad hoc reports in adhoc/views.py)."""

from flask import Blueprint

from modules.reporting import controllers
from modules.reporting.adhoc import views as adhoc

bp = Blueprint("reporting", __name__, template_folder="templates")
bp.add_url_rule("/reports", "report_list", controllers.report_list)
bp.add_url_rule("/reports/freeze", "report_freeze", controllers.report_freeze, methods=["POST"])
bp.add_url_rule("/reports/adhoc", "adhoc_report", adhoc.adhoc_report)
bp.add_url_rule("/reports/adhoc.<any(xlsx, csv):fmt>", "adhoc_export", adhoc.adhoc_export)
bp.add_url_rule("/reports/adhoc/saved", "adhoc_save", adhoc.adhoc_save, methods=["POST"])
bp.add_url_rule("/reports/adhoc/saved/<int:report_id>/delete", "adhoc_delete", adhoc.adhoc_delete, methods=["POST"])
bp.add_url_rule("/reports/<string(length=7):period>", "report_dashboard", controllers.report_dashboard)
bp.add_url_rule("/reports/<string(length=7):period>/return.<any(xlsx, pdf, csv):fmt>", "report_download",
                controllers.report_download)
