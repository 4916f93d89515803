"""/api/v1/applications: JSON for machine clients (bearer token) and signed-in staff.

Invalid input and refusals escape to the transaction boundary, which answers 422 {"error", "errors"}."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from modules.registration import operations
from modules.registration.models import Application, ApplicationMember
from modules.registration.schemas import ApplicationArgs, ApplicationFilterArgs, ApplicationSchema
from webapp.auth.permissions import check_api_permission
from webapp.extensions import db
from webapp.guard import json_object


def list_applications():
    check_api_permission("application.view")
    filters = ApplicationFilterArgs().load(request.args)
    # What each item shows, in one query per relation rather than one per application and member.
    query = operations.filtered_applications(current_user, filters).options(
        selectinload(Application.applicant), selectinload(Application.area), selectinload(Application.programmes),
        selectinload(Application.members).selectinload(ApplicationMember.person))
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    operations.record_list_view(page.items, current_user, searched=bool(filters["q"]))
    return jsonify({"items": ApplicationSchema(many=True, exclude=("timeline",)).dump(page.items),
                    "page": page.page, "per_page": page.per_page, "total": page.total, "pages": page.pages})


def get_application(application_id: int):
    check_api_permission("application.view")
    # The members with their persons, and the timeline, in one query each rather than one per member.
    application = db.session.scalar(operations.scoped_applications(current_user).where(Application.id == application_id)
                                    .options(selectinload(Application.members).selectinload(ApplicationMember.person),
                                             selectinload(Application.programmes), selectinload(Application.events)))
    if application is None:
        abort(404)
    operations.record_view(application, current_user)
    return jsonify(ApplicationSchema().dump(application))


def create_application():
    check_api_permission("application.create")
    application = operations.register_application(ApplicationArgs().load(json_object()), current_user)
    response = jsonify(ApplicationSchema().dump(application))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/applications/{application.id}"
    return response

