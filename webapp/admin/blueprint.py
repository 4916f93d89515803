"""URL map of the administration pages."""

from flask import Blueprint

from webapp.admin import controllers

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
bp.add_url_rule("/users", "user_list", controllers.user_list)
bp.add_url_rule("/users/new", "user_new", controllers.user_new, methods=["GET", "POST"])
bp.add_url_rule("/users/<int:user_id>", "user_edit", controllers.user_edit, methods=["GET", "POST"])
bp.add_url_rule("/users/<int:user_id>/unlock", "user_unlock", controllers.user_unlock, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/password", "user_password", controllers.user_password, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/authenticator/reset", "user_authenticator_reset",
                controllers.user_authenticator_reset, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/tokens", "user_tokens", controllers.user_tokens)
bp.add_url_rule("/users/<int:user_id>/tokens/<int:token_id>/revoke", "token_revoke", controllers.token_revoke,
                methods=["POST"])
bp.add_url_rule("/audit", "audit_list", controllers.audit_list)
bp.add_url_rule("/audit/verify", "audit_verify", controllers.audit_verify, methods=["POST"])
bp.add_app_template_filter(controllers.compact_json, "compact_json")
