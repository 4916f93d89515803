"""/api/v1/cases: JSON for other channels (a call centre, the portal) with a bearer token, and signed-in staff.

Invalid input and refusals escape to the transaction boundary, which answers 422 {"error", "errors"} naming the field.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user

from modules.grievances import operations
from modules.grievances.categories import categories
from modules.grievances.schemas import CaseCreatedSchema, CaseFilterArgs, CaseSchema, PublicCaseSchema
from webapp.auth.permissions import check_api_permission
from webapp.extensions import db
from webapp.guard import json_object


def list_categories():
    check_api_permission("case.view")
    return jsonify([{"code": item.code, "kind": [kind.value for kind in item.kinds], "name": item.name,
                     "group": item.group.name, "sla_working_days": item.sla_working_days}
                    for item in categories() if item.visible_for(current_user.role)])


def list_cases():
    check_api_permission("case.view")
    filters = CaseFilterArgs().load(request.args)
    scope = filters.pop("scope")
    page = db.paginate(operations.cases_for(current_user, scope, filters), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    items = CaseSchema(many=True).dump(page.items)
    for item, case in zip(items, page.items, strict=True):
        item["sla_status"] = operations.sla_status(case)
    return jsonify({"items": items, "page": page.page, "per_page": page.per_page, "total": page.total,
                    "pages": page.pages})


def get_case(tracking_number: str):
    check_api_permission("case.view")
    if len(tracking_number) > 20:
        abort(404)
    case = operations.get_by_tracking_number(current_user, tracking_number)
    if case is None:
        abort(404)
    payload = PublicCaseSchema().dump(case)
    payload["sla_status"] = operations.sla_status(case)
    return jsonify(payload)


def create_case():
    check_api_permission("case.open")
    case = operations.open_case(json_object(), current_user)
    response = jsonify(CaseCreatedSchema().dump(case))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/cases/{case.tracking_number}"
    return response

