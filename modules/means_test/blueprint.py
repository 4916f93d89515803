"""URL map of the means-test module."""

from flask import Blueprint

from modules.means_test import api, controllers, simulation_views

bp = Blueprint("means_test", __name__, template_folder="templates")
bp.add_url_rule("/applications/<int:application_id>/collect", "retry", controllers.retry, methods=["POST"])
bp.add_url_rule("/applications/<int:application_id>/manual/<source>", "manual_entry", controllers.manual_entry,
                methods=["GET", "POST"])
bp.add_url_rule("/applications/<int:application_id>/manual-entries/<int:entry_id>/confirm", "manual_confirm",
                controllers.manual_confirm, methods=["POST"])
bp.add_url_rule("/applications/<int:application_id>/manual-entries/<int:entry_id>/reject", "manual_reject",
                controllers.manual_reject, methods=["POST"])
bp.add_url_rule("/applications/<int:application_id>/manual-entries/<int:entry_id>/document", "manual_document",
                controllers.manual_document)
bp.add_url_rule("/policy/simulate", "policy_simulate", simulation_views.simulate_page, methods=["GET", "POST"])
bp.add_url_rule("/policy/simulate.csv", "policy_simulate_csv", simulation_views.simulate_csv, methods=["GET", "POST"])

api_bp = Blueprint("means_test_api", __name__, url_prefix="/api/v1/means-test")
api_bp.add_url_rule("/evaluate", "evaluate", api.evaluate_facts, methods=["POST"])
