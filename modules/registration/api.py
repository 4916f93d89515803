"""/api/v1/applications: JSON for machine clients (bearer token) and signed-in staff."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user
from marshmallow import ValidationError

from modules.registration import operations
from modules.registration.schemas import ApplicationArgs, ApplicationFilterArgs, ApplicationSchema
from webapp.auth.permissions import has_permission
from webapp.boundary import flatten_errors
from webapp.extensions import db


def _require(permission: str) -> None:
    if not current_user.is_authenticated:
        abort(401)
    if not has_permission(current_user, permission):
        abort(403)


def _unprocessable(errors: dict):
    return jsonify({"error": "Unprocessable Entity", "errors": errors}), 422


def list_applications():
    _require("application.view")
    try:
        filters = ApplicationFilterArgs().load(request.args)
    except ValidationError as error:
        return _unprocessable(flatten_errors(error.messages))
    page = db.paginate(operations.filtered_applications(current_user, filters), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    operations.record_list_view(page.items, current_user, searched=bool(filters["q"]))
    db.session.commit()
    return jsonify({"items": ApplicationSchema(many=True, exclude=("timeline",)).dump(page.items),
                    "page": page.page, "per_page": page.per_page, "total": page.total, "pages": page.pages})


def get_application(application_id: int):
    _require("application.view")
    application = operations.get_application(current_user, application_id)
    if application is None:
        abort(404)
    operations.record_view(application, current_user)
    db.session.commit()
    return jsonify(ApplicationSchema().dump(application))


def create_application():
    _require("application.create")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _unprocessable({"_schema": ["The body must be a JSON object."]})
    try:
        application = operations.register_application(ApplicationArgs().load(payload), current_user)
    except ValidationError as error:
        return _unprocessable(flatten_errors(error.messages))
    except operations.RegistrationError as error:
        db.session.rollback()
        return _unprocessable(error.errors)
    db.session.commit()
    response = jsonify(ApplicationSchema().dump(application))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/applications/{application.id}"
    return response
