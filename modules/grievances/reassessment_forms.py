"""The forms of re-assessment, checked at the edge: up to MAX_CHANGES rows of (what changed, whose PIN, relation,
date), every choice one the page offered, dates neither in the future nor a century back."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError, fields, validate, validates_schema

from modules.grievances.reassessment import CHANGE_KINDS, JOINING_KINDS
from modules.registration.models import Relation
from modules.registration.schemas import LocalizedSchema
from webapp.timeutil import local_today

MAX_CHANGES = 4
CHOOSE_KIND = _l("Choose what changed.")
GIVE_PIN = _l("Give the person's PIN: 14 digits.")
CHOOSE_RELATION = _l("Choose how the person is related to the head of the household.")
GIVE_DATE = _l("Give the date of the change.")


def _plausible(when: date) -> None:
    today = local_today()
    if when > today:
        raise ValidationError(str(_l("The date of the change cannot be in the future.")))
    if when < date(today.year - 100, 1, 1):
        raise ValidationError(str(GIVE_DATE))


class _Form(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE


class ChangeRow(_Form):
    kind = fields.String(required=True, error_messages={"required": CHOOSE_KIND, "null": CHOOSE_KIND},
                         validate=validate.OneOf(CHANGE_KINDS, error=CHOOSE_KIND))
    pin = fields.String(required=True, error_messages={"required": GIVE_PIN, "null": GIVE_PIN},
                        validate=validate.Regexp(r"[0-9]{14}\Z", error=GIVE_PIN))
    relation = fields.String(validate=validate.OneOf([r.value for r in Relation if r is not Relation.head],
                                                     error=CHOOSE_RELATION))
    date = fields.Date(required=True, error_messages={"required": GIVE_DATE, "null": GIVE_DATE, "invalid": GIVE_DATE},
                       validate=_plausible)

    @validates_schema(skip_on_field_errors=False)
    def _relation_given(self, data, **_kwargs):
        if data.get("kind") in JOINING_KINDS and not data.get("relation"):
            raise ValidationError(str(CHOOSE_RELATION), "relation")


class ChangeRows(_Form):
    rows = fields.List(fields.Nested(ChangeRow), required=True,
                       validate=validate.Length(min=1, max=MAX_CHANGES, error=_l("Record at least one change.")))


class ReviewForm(_Form):
    refresh = fields.Boolean(load_default=False, truthy={"1", "on", "true"}, falsy={"0", "off", "false", ""})


def rows_from(form) -> list[dict]:
    """The rows the page posted (fields kind-0, pin-0, …); a row left entirely empty is not a change."""
    rows = []
    for index in range(MAX_CHANGES):
        row = {name: form.get(f"{name}-{index}", "").strip() for name in ("kind", "pin", "relation", "date")}
        if any(row.values()):
            rows.append({key: value for key, value in row.items() if value})
    return rows
