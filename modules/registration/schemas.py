"""Marshmallow schemas at the edges: `*Args` validate what comes in, `*Schema` shape what goes out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext, ngettext
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from modules.registration.models import ApplicationStatus, Channel, Relation, Sex
from webapp.filters import PageArgs
from webapp.guard import RowId
from webapp.pin import is_ascii_digits

_REQUIRED = {"required": _l("This field is required."), "null": _l("This field is required.")}
_PHONE_UZ = re.compile(r"^\+998\d{9}$")


def normalize_phone(raw: str) -> str:
    """'90 123-45-67', '998901234567' and '+998 90 123 45 67' all become '+998901234567'."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 9:
        digits = "998" + digits
    return "+" + digits


def _check_phone(value: str) -> None:
    if not _PHONE_UZ.match(value):
        raise ValidationError(_("Enter a mobile number as +998 XX XXX XX XX."))


def _check_pin_shape(value: str) -> None:
    if not (len(value) == 14 and is_ascii_digits(value)):
        raise ValidationError(_("A PIN has exactly 14 digits."))


class LocalizedSchema(Schema):
    """Resolves translated (lazy) error messages when the schema is built, in the request's language:
    marshmallow keeps a message that is not a str as a sequence and would split it into characters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for schema_field in self.fields.values():
            schema_field.error_messages = {key: str(msg) for key, msg in schema_field.error_messages.items()}


def _strings(**kwargs):
    return fields.String(error_messages=_REQUIRED, **kwargs)


class MemberArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    pin = _strings(required=True, validate=_check_pin_shape)
    relation = _strings(required=True, validate=validate.OneOf(
        [r.value for r in Relation if r is not Relation.head], error=_l("Choose spouse, child, parent or other.")))

    @pre_load
    def strip(self, data, **_kwargs):
        if not isinstance(data, dict):
            return data  # marshmallow answers "Invalid input type" for it
        return {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}


NOTICE_LANGUAGES = ("uz", "ru", "en", "ky")
MAX_MEMBERS = 30  # family members listed besides the applicant


def too_many_members() -> str:
    return ngettext("An application lists at most %(num)d family member besides the applicant.",
                    "An application lists at most %(num)d family members besides the applicant.", MAX_MEMBERS)


class ApplicationArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    applicant_pin = _strings(required=True, validate=_check_pin_shape)
    phone = _strings(required=True, validate=_check_phone)
    members = fields.List(fields.Nested(MemberArgs), load_default=list)
    programmes = fields.List(fields.String(), required=True, error_messages=_REQUIRED,
                             validate=validate.Length(min=1, error=_l("Choose at least one programme.")))
    channel = _strings(required=True, validate=validate.OneOf([c.value for c in Channel],
                                                                  error=_l("Choose a channel.")))
    # The language of the applicant's SMS notices (Kyrgyz for the kg profile).
    language = fields.String(load_default="uz", validate=validate.OneOf(NOTICE_LANGUAGES,
                                                                        error=_l("Choose a language.")))
    submit = fields.Boolean(load_default=True)

    @pre_load
    def normalize(self, data, **_kwargs):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("members"), list | tuple) and len(data["members"]) > MAX_MEMBERS:
            raise ValidationError(too_many_members(), field_name="members")  # before reading thousands of rows
        if isinstance(data.get("applicant_pin"), str):
            data["applicant_pin"] = data["applicant_pin"].strip()
        if isinstance(data.get("phone"), str) and data["phone"].strip():
            data["phone"] = normalize_phone(data["phone"])
        return data


REASON_MAX = 1000  # characters of a withdrawal's reason (kept on the application's timeline)


class WithdrawArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.String(load_default="", validate=validate.Length(max=REASON_MAX, error=lazy_ngettext(
        "Keep the reason to %(num)d character or fewer.", "Keep the reason to %(num)d characters or fewer.",
        REASON_MAX)))

    @pre_load
    def strip(self, data, **_kwargs):
        if not isinstance(data, dict):
            return data
        reason = data.get("reason")
        return {**data, "reason": reason.strip()} if isinstance(reason, str) else data


class ApplicationFilterArgs(LocalizedSchema, PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in ApplicationStatus]), load_default=None)
    area = RowId(load_default=None)
    programme = fields.String(load_default=None)
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    overdue = fields.Boolean(load_default=False)
    q = fields.String(load_default=None)


class Timestamp(fields.DateTime):
    """A stored timestamp (UTC) with its offset, as RFC 3339 wants: SQLite gives it back without one."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class PersonSchema(Schema):
    pin = fields.String()
    full_name = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)
    sex = fields.Enum(Sex, by_value=True)


class ApplicationMemberSchema(Schema):
    person = fields.Nested(PersonSchema)
    relation = fields.Enum(Relation, by_value=True)


class ApplicationEventSchema(Schema):
    at = Timestamp()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String(allow_none=True)
    actor = fields.Function(lambda event: event.actor.username if event.actor else "system",
                            metadata={"type": "string", "description": "The user's name, or \"system\"."})


class AreaRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String(attribute="name_uz")


class ApplicationSchema(Schema):
    """`allow_none` on what an application may not have yet: it documents the answer (these schemas only dump)."""

    id = fields.Integer()
    reference = fields.String()
    status = fields.Enum(ApplicationStatus, by_value=True)
    channel = fields.Enum(Channel, by_value=True)
    household_id = fields.Integer(allow_none=True)
    area = fields.Nested(AreaRefSchema)
    applicant = fields.Nested(PersonSchema)
    phone = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    programmes = fields.Function(lambda app: [programme.code for programme in app.programmes],
                                 metadata={"type": "array", "items": {"type": "string"}})
    members = fields.List(fields.Nested(ApplicationMemberSchema))
    created_at = Timestamp()
    submitted_at = Timestamp(allow_none=True)
    due_at = fields.Date(allow_none=True)
    timeline = fields.List(fields.Nested(ApplicationEventSchema), attribute="events")
