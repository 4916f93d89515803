"""Staff pages of the household profile: the search of households and beneficiaries, and one household's page.

Thin: load, check access, validate the filters, read through `profile`, render. The boundary commits the audit."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from modules.enrolment.models import EnrolmentStatus
from modules.grievances import profile
from modules.registration.models import Household
from webapp.auth.permissions import require
from webapp.auth.scope import area_choices
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import AreaLevel
from webapp.programmes import offered_programmes

# Whoever may read cases may read the households they concern (the same case workers, admins and auditors).
PERMISSION = "case.view"


@require(PERMISSION)
def household_search():
    filters = load_filters(profile.HouseholdFilterArgs())
    # Each row's mahalla in one query for the page, not one per household.
    query = profile.filtered_households(current_user, filters).options(selectinload(Household.area))
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    profile.record_search(page.items, current_user, searched=bool(filters.get("q")))
    areas = area_choices(current_user, (AreaLevel.region, AreaLevel.district))
    return render_template("grievances/household_search.html", page=page, filters=filters,
                           rows=profile.summaries(page.items), programmes=offered_programmes(),
                           statuses=list(EnrolmentStatus), areas=areas)


@require(PERMISSION)
def household_profile(household_id: int):
    household = profile.get_household(current_user, household_id)
    if household is None:
        abort(404)  # out of scope looks exactly like missing: no hint that the household exists
    profile.record_view(household, current_user)
    return render_template("grievances/profile.html", **profile.profile(household, current_user))
