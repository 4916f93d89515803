"""Staff actions on data collection. Thin: load in scope, check permission, call the operation (the boundary
commits)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from connectors.catalog import BY_NAME
from modules.means_test import operations
from modules.registration.operations import get_application
from webapp.auth.permissions import require


@require("application.change")
def retry(application_id: int):
    """Retry one source (form field `source`) or every missing one; allowed from manual verification or after
    collection (to refresh a source), never while a collection is running."""
    application = get_application(current_user, application_id)
    if application is None:
        abort(404)
    source = request.form.get("source") or None
    if source is not None and source not in BY_NAME:
        flash(_("Unknown source %(name)s.", name=source), "error")
    elif not operations.can_restart(application):
        flash(_("Data collection cannot be restarted while the application is %(status)s.",
                status=_(application.status.value)), "error")
    else:
        operations.start_collection(application, current_user, [source] if source else None, probe=True)
        flash(_("Data collection restarted."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))
