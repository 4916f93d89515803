"""URL map of the citizens' portal (`/portal/...`): sign-in (auth_views.py), the citizen's pages (views.py)."""

from flask import Blueprint

from modules.portal import auth_views, views
from modules.portal.session import current_citizen

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")
auth_views.register(bp)
views.register(bp)


@bp.app_context_processor
def _citizen():
    # Only on portal pages: staff pages never read the citizen's part of the session.
    from flask import has_request_context, request

    return {"citizen": current_citizen()} if has_request_context() and request.blueprint == "portal" else {}
