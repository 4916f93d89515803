"""Marshmallow schemas of cases: `*Args` validate what comes in, `*Schema` shape what goes out."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError, fields, pre_load, validate

from modules.grievances.categories import category
from modules.grievances.models import CaseChannel, CaseDecision, CaseEventKind, CaseKind, CaseStatus
from modules.registration.schemas import LocalizedSchema, Timestamp, normalize_phone
from webapp.filters import PageArgs
from webapp.guard import RowId
from webapp.pin import is_ascii_digits

MAX_DESCRIPTION = 4000
_REQUIRED = {"required": _l("This field is required."), "null": _l("This field is required.")}
LANGUAGES = ("uz", "ru", "en")


def _check_pin(value: str) -> None:
    if not (len(value) == 14 and is_ascii_digits(value)):
        raise ValidationError(_("A PIN has exactly 14 digits."))


def _check_phone(value: str) -> None:
    digits = normalize_phone(value)
    if not (len(digits) == 13 and digits.startswith("+998") and is_ascii_digits(digits[1:])):
        raise ValidationError(_("Enter a mobile number as +998 XX XXX XX XX."))


def _check_category(value: str) -> None:
    if category(value) is None:
        raise ValidationError(_("Choose a category from the list."))


# "event" is the channel of alerts the system raises itself: no person opens a case through it.
STAFF_CHANNELS = [channel.value for channel in CaseChannel if channel is not CaseChannel.event]


class CaseArgs(LocalizedSchema):
    """A new case, from a page or the API."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, error_messages=_REQUIRED, validate=validate.OneOf(
        [kind.value for kind in CaseKind], error=_l("Choose the kind of case from the list.")))
    category = fields.String(required=True, error_messages=_REQUIRED,
                             validate=[validate.Length(max=60), _check_category])
    channel = fields.String(load_default=CaseChannel.office.value, validate=validate.OneOf(
        STAFF_CHANNELS, error=_l("Choose how the case came in from the list.")))
    description = fields.String(required=True, error_messages=_REQUIRED, validate=validate.Length(
        min=1, max=MAX_DESCRIPTION, error=_l("Write the description in 1 to %(max)s characters.", max=MAX_DESCRIPTION)))
    applicant_pin = fields.String(load_default=None, validate=[validate.Length(max=14), _check_pin])
    phone = fields.String(load_default=None, validate=[validate.Length(max=30), _check_phone])
    complainant_name = fields.String(load_default=None, validate=validate.Length(max=200))
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES))
    application_id = RowId(load_default=None)
    payroll_line_id = RowId(load_default=None)
    household_id = RowId(load_default=None)
    priority = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3))

    @pre_load
    def drop_blanks(self, data, **_kwargs):
        if not hasattr(data, "items"):
            return data
        stripped = {key: value.strip() if isinstance(value, str) else value for key, value in dict(data).items()}
        return {key: value for key, value in stripped.items() if value not in ("", None)}


class CaseFilterArgs(LocalizedSchema, PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf([status.value for status in CaseStatus]))
    kind = fields.String(load_default=None, validate=validate.OneOf([kind.value for kind in CaseKind]))
    category = fields.String(load_default=None, validate=validate.Length(max=60))
    area = RowId(load_default=None)
    assignee = RowId(load_default=None)
    overdue = fields.Boolean(load_default=False)
    open = fields.Boolean(load_default=None)
    scope = fields.String(load_default="area", validate=validate.OneOf(["mine", "area", "all", "unassigned"]))


class TransitionArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True, error_messages=_REQUIRED,
                           validate=validate.OneOf([status.value for status in CaseStatus]))
    decision = fields.String(load_default=None, validate=validate.OneOf([decision.value for decision in CaseDecision]))
    resolution = fields.String(load_default=None, validate=validate.Length(max=MAX_DESCRIPTION))
    note = fields.String(load_default=None, validate=validate.Length(max=MAX_DESCRIPTION))


class CaseEventSchema(LocalizedSchema):
    at = Timestamp()
    kind = fields.Enum(CaseEventKind, by_value=True)
    text = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)


class CaseCreatedSchema(LocalizedSchema):
    """`allow_none` on what a case may not have yet: it documents the answer (these schemas only dump)."""

    id = fields.Integer()
    tracking_number = fields.String()
    status = fields.Enum(CaseStatus, by_value=True)
    due_date = fields.Date(allow_none=True)


class CaseSchema(CaseCreatedSchema):
    kind = fields.Enum(CaseKind, by_value=True)
    category = fields.String(attribute="category_code")
    channel = fields.Enum(CaseChannel, by_value=True)
    priority = fields.Integer(allow_none=True)
    area_id = fields.Integer(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    created_at = Timestamp()
    decision = fields.Enum(CaseDecision, by_value=True, allow_none=True)
    resolved_at = Timestamp(allow_none=True)
    closed_at = Timestamp(allow_none=True)


class PublicCaseSchema(CaseCreatedSchema):
    """What a citizen's channel (call centre, portal) may read of a case: no staff, no confidential notes."""

    kind = fields.Enum(CaseKind, by_value=True)
    decision = fields.Enum(CaseDecision, by_value=True, allow_none=True)
    resolution = fields.String(allow_none=True)
    events = fields.Function(lambda case: CaseEventSchema(many=True).dump(
        [event for event in case.events if event.public]),
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/CaseEvent"}})
