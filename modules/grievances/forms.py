"""The case pages' forms, checked at the edge: every string bounded, every choice one the page offered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, validate

from modules.grievances import schemas
from modules.registration.schemas import LocalizedSchema

TEXT_MAX = 4000
SUMMARY_MAX = 2000
QUEUES = ("mine", "area", "supervisor")
PAGE_EVENT_KINDS = ("note", "confidential_note", "call", "visit")
# The fields of the page that opens a case (checked by the cases' own CaseArgs, as the API's are).
OPEN_FIELDS = ("kind", "category", "channel", "description", "applicant_pin", "application_id", "phone",
               "complainant_name")


class _Form(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE


class QueueArgs(schemas.CaseFilterArgs):
    """The queue page's filters: which queue (mine, the area's unassigned, supervision), status, kind, category."""

    queue = fields.String(load_default="mine", validate=validate.OneOf(QUEUES))


def _text(limit: int, missing):
    return fields.String(required=True, error_messages={"required": missing, "null": missing}, validate=validate.Length(
        min=1, max=limit, error=_l("Write the text in 1 to %(max)s characters.", max=limit)))


CHOOSE_COLLEAGUE = _l("Choose a colleague from the list.")
CHOOSE_DECISION = _l("Choose the decision.")
CHOOSE_STATUS = _l("Choose a status from the list.")
CHOOSE_EVENT = _l("Choose what to add from the list.")


class AssignForm(_Form):
    assignee = fields.Integer(required=True, error_messages={"required": CHOOSE_COLLEAGUE, "null": CHOOSE_COLLEAGUE,
                                                             "invalid": CHOOSE_COLLEAGUE},
                              validate=validate.Range(min=1, max=2**31 - 1, error=CHOOSE_COLLEAGUE))


class EventForm(_Form):
    kind = fields.String(required=True, error_messages={"required": CHOOSE_EVENT, "null": CHOOSE_EVENT},
                         validate=validate.OneOf(PAGE_EVENT_KINDS, error=CHOOSE_EVENT))
    text = _text(TEXT_MAX, _l("Write what happened, what was said or found."))


class TransitionForm(_Form):
    to_status = fields.String(required=True, error_messages={"required": CHOOSE_STATUS, "null": CHOOSE_STATUS},
                              validate=validate.Length(min=1, max=32, error=CHOOSE_STATUS))
    note = fields.String(validate=validate.Length(max=TEXT_MAX, error=_l(
        "Write the text in 1 to %(max)s characters.", max=TEXT_MAX)))


class ResolveForm(_Form):
    decision = fields.String(required=True, error_messages={"required": CHOOSE_DECISION, "null": CHOOSE_DECISION},
                             validate=validate.Length(min=1, max=32, error=CHOOSE_DECISION))
    resolution = _text(SUMMARY_MAX, _l("Write what was done and decided."))
