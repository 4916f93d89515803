"""URL map of the means-test module."""

from flask import Blueprint

from modules.means_test import controllers

bp = Blueprint("means_test", __name__, template_folder="templates")
bp.add_url_rule("/applications/<int:application_id>/collect", "retry", controllers.retry, methods=["POST"])
