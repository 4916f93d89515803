"""Appeal a decision or complain about a payment in one step: the case is opened through the case module's own
operation (channel portal), about the application or the payroll line the citizen was reading."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError, fields, pre_load, validate

from modules.grievances import operations as cases
from modules.grievances.models import Case
from modules.grievances.schemas import MAX_DESCRIPTION
from modules.payments.models import PayrollLine
from modules.registration.models import Application, Person
from modules.registration.schemas import LocalizedSchema, normalize_phone
from webapp import audit
from webapp.boundary import Refusal

APPEAL = ("appeal", "decision_appeal")
COMPLAINT = ("grievance", "payment_not_received")
_PHONE = re.compile(r"^\+998\d{9}$")


class RequestArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    description = fields.String(required=True, error_messages={
        "required": _l("Say in a few words what is wrong."), "null": _l("Say in a few words what is wrong.")},
        validate=validate.Length(min=1, max=MAX_DESCRIPTION, error=_l(
            "Write the description in 1 to %(max)s characters.", max=MAX_DESCRIPTION)))

    @pre_load
    def strip(self, data, **_kwargs):
        if not hasattr(data, "get"):
            return data
        text = data.get("description")
        return {"description": text.strip()} if isinstance(text, str) and text.strip() else {}


class RequestRefused(Refusal):
    def __init__(self, errors: dict):
        super().__init__(_l("The request was not sent: see the fields marked."), errors=errors)


def _description(form) -> str:
    try:
        return RequestArgs().load(form)["description"]
    except ValidationError as invalid:
        raise RequestRefused({key: list(messages) for key, messages in invalid.messages.items()}) from invalid


def appeal(citizen: Person, application: Application, form, language: str) -> Case:
    """An appeal against the application's decision, opened in the case module (the due date is its own)."""
    kind, category = APPEAL
    case = _open({"kind": kind, "category": category, "application_id": application.id,
                  "description": _description(form)}, citizen, application.phone, language)
    return case


def complaint(citizen: Person, line: PayrollLine, form, language: str) -> Case:
    """A payment not received, about that payroll line."""
    kind, category = COMPLAINT
    return _open({"kind": kind, "category": category, "payroll_line_id": line.id,
                  "description": _description(form)}, citizen, None, language)


def _open(data: dict, citizen: Person, phone: str | None, language: str) -> Case:
    data = {**data, "channel": "portal", "complainant_name": citizen.full_name,
            "language": language if language in ("uz", "ru", "en") else "uz"}
    phone = next((normalize_phone(raw) for raw in (phone, citizen.phone) if raw and _PHONE.match(normalize_phone(raw))),
                 None)
    if phone:
        data["phone"] = phone  # the case module texts its tracking number and answer there
    try:
        case = cases.open_case(data, None)
    except ValidationError as invalid:
        raise RequestRefused({key: list(messages) if isinstance(messages, list) else [str(messages)]
                              for key, messages in invalid.messages.items()}) from invalid
    audit.record("portal.case_opened", "case", case.id, {"person_id": citizen.id, "kind": case.kind.value})
    return case
