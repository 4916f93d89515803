"""URL map of the enrolment module."""

from flask import Blueprint

from modules.enrolment import controllers

bp = Blueprint("enrolment", __name__, template_folder="templates")
bp.add_url_rule("/enrolments/<int:enrolment_id>/suspend", "suspend", controllers.suspend, methods=["POST"])
bp.add_url_rule("/enrolments/<int:enrolment_id>/resume", "resume", controllers.resume, methods=["POST"])
bp.add_url_rule("/enrolments/<int:enrolment_id>/end", "end", controllers.end, methods=["POST"])
