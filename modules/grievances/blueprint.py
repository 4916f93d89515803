"""URL map of the cases module: staff pages (`bp`, routes in controllers.py) and the /api/v1/cases endpoints."""

from flask import Blueprint

from modules.grievances import api, controllers, profile_views, reassessment_views, visit_views, visits
from webapp.idempotency import idempotent

bp = Blueprint("grievances", __name__, template_folder="templates")
bp.add_url_rule("/cases", "case_list", controllers.case_list)
bp.add_url_rule("/cases/new", "case_new", controllers.case_new, methods=["GET", "POST"])
bp.add_url_rule("/cases/<int:case_id>", "case_detail", controllers.case_detail)
bp.add_url_rule("/cases/<int:case_id>/assign", "case_assign", controllers.case_assign, methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/event", "case_event", controllers.case_event, methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/status", "case_transition", controllers.case_transition, methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/resolve", "case_resolve", controllers.case_resolve, methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/changes/new", "change_new", reassessment_views.change_new,
                methods=["GET", "POST"])
bp.add_url_rule("/cases/<int:case_id>/appeal-review", "appeal_review", reassessment_views.appeal_review,
                methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/reassessments/<int:reassessment_id>/confirm", "reassessment_confirm",
                reassessment_views.reassessment_confirm, methods=["POST"])
bp.add_url_rule("/cases/<int:case_id>/reassessments/<int:reassessment_id>/discard", "reassessment_discard",
                reassessment_views.reassessment_discard, methods=["POST"])
bp.add_url_rule("/households", "household_search", profile_views.household_search)
bp.add_url_rule("/households/<int:household_id>", "household_profile", profile_views.household_profile)
bp.add_url_rule("/households/<int:household_id>/visits/new", "visit_new", visit_views.visit_new,
                methods=["GET", "POST"])
bp.add_url_rule("/households/<int:household_id>/visits/<int:visit_id>/attachment", "visit_attachment",
                visit_views.visit_attachment)
# The household profile and the case page list visits through these (their views stay as they are).
bp.add_app_template_global(visits.visits_of_household, "household_visits")
bp.add_app_template_global(visits.visits_of_case, "case_visits")

api_bp = Blueprint("grievances_api", __name__, url_prefix="/api/v1")
# /categories is declared before /<tracking_number> so it is never read as a tracking number.
api_bp.add_url_rule("/cases/categories", "categories", api.list_categories, methods=["GET"])
api_bp.add_url_rule("/cases", "list", api.list_cases, methods=["GET"])
# A client that resends after a lost answer (Idempotency-Key) gets the first answer and opens no second case.
api_bp.add_url_rule("/cases", "create", idempotent(api.create_case), methods=["POST"])
api_bp.add_url_rule("/cases/<string(maxlength=20):tracking_number>", "detail", api.get_case, methods=["GET"])
