"""URL map of the reports pages (routes in controllers.py)."""

from flask import Blueprint

from modules.reporting import controllers

bp = Blueprint("reporting", __name__, template_folder="templates")
bp.add_url_rule("/reports", "report_list", controllers.report_list)
bp.add_url_rule("/reports/freeze", "report_freeze", controllers.report_freeze, methods=["POST"])
bp.add_url_rule("/reports/<string(length=7):period>", "report_dashboard", controllers.report_dashboard)
bp.add_url_rule("/reports/<string(length=7):period>/return.<any(xlsx, pdf, csv):fmt>", "report_download",
                controllers.report_download)
