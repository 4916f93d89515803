"""What the finance pages take in (`*Args`): list filters and the fields of their forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, fields, validate

from modules.payments.generation import PERIOD
from modules.payments.models import ExceptionKind, PayrollStatus
from webapp.filters import PageArgs

MONTH = validate.Regexp(PERIOD.pattern, error=_l("Give the month as YYYY-MM."))


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE


class PayrollFilterArgs(PageArgs):
    programme = fields.String(load_default=None)
    region = fields.String(load_default=None)
    period = fields.String(validate=validate.Regexp(PERIOD.pattern), load_default=None)
    status = fields.String(validate=validate.OneOf([s.value for s in PayrollStatus]), load_default=None)


class PrepareArgs(_Form):
    # Unknown programmes, regions and months are refused by the operations with their own messages.
    programme = fields.String(load_default="")
    region = fields.String(load_default="")
    period = fields.String(load_default="")


class MonthFundsArgs(_Form):
    period = fields.String(load_default="")


class CancelArgs(_Form):
    reason = fields.String(load_default="")


class ApproveArgs(_Form):
    code = fields.String(load_default="")


class StatementFilterArgs(PageArgs):
    """The statement list takes only the page."""


class ExceptionFilterArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf([kind.value for kind in ExceptionKind]), load_default=None)


class ReturnsArgs(_Form):
    period = fields.String(validate=MONTH, load_default=None)


class ResolveArgs(_Form):
    # A missing or blank note reaches `resolve_exception`, which refuses it with its own message.
    note = fields.String(load_default="", validate=validate.Length(
        max=500, error=_l("The note is too long (at most 500 characters).")))
