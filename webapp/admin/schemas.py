"""Marshmallow `*Args` for the query strings of the administration pages."""

from __future__ import annotations

from marshmallow import fields, validate

from webapp.filters import PageArgs


class _QueryArgs(PageArgs):
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class UserFilterArgs(_QueryArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class AuditFilterArgs(_QueryArgs):
    action = fields.String(load_default=None, validate=validate.Length(max=80))
    actor = fields.String(load_default=None, validate=validate.Length(max=80))
    object_type = fields.String(load_default=None, validate=validate.Length(max=40))
    object_id = fields.String(load_default=None, validate=validate.Length(max=40))
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
