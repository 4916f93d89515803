"""What every case page starts from: the day the pages count from, and the case the reader may see (or a 404)."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app
from flask_login import current_user

from modules.grievances import operations
from modules.grievances.models import Case
from webapp.timeutil import local_today


def page_today() -> date:
    """Today in the country's calendar; a test or a demo may set TODAY_OVERRIDE."""
    return current_app.config.get("TODAY_OVERRIDE") or local_today()


def case_or_404(case_id: int) -> Case:
    case = operations.get_case(current_user, case_id)
    if case is None:
        abort(404)  # out of scope looks exactly like missing: no hint that the case exists
    return case
