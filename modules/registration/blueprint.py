"""URL map of the registration module: staff pages and the /api/v1 endpoints."""

from flask import Blueprint

from modules.registration import api, controllers
from webapp.idempotency import idempotent

bp = Blueprint("registration", __name__, template_folder="templates")
bp.add_url_rule("/applications", "application_list", controllers.application_list)
bp.add_url_rule("/applications/new", "application_new", controllers.application_new, methods=["GET", "POST"])
bp.add_url_rule("/applications/<int:application_id>", "application_detail", controllers.application_detail)
bp.add_url_rule("/applications/<int:application_id>/submit", "application_submit", controllers.application_submit,
                methods=["POST"])
bp.add_url_rule("/applications/<int:application_id>/withdraw", "application_withdraw",
                controllers.application_withdraw, methods=["POST"])
bp.add_url_rule("/applications/export", "application_export", controllers.application_export, methods=["POST"])

api_bp = Blueprint("registration_api", __name__, url_prefix="/api/v1")
api_bp.add_url_rule("/applications", "list", api.list_applications, methods=["GET"])
# A client that resends after a lost answer (Idempotency-Key) gets the first answer and creates nothing.
api_bp.add_url_rule("/applications", "create", idempotent(api.create_application), methods=["POST"])
api_bp.add_url_rule("/applications/<int:application_id>", "detail", api.get_application, methods=["GET"])
