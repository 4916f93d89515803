"""What the notifications page accepts."""

from __future__ import annotations

from marshmallow import fields, validate

from webapp.filters import PageArgs
from webapp.models import NotificationStatus


class NotificationFilterArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in NotificationStatus]), load_default=None)
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
