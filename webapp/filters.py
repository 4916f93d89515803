"""Query-string filters of list pages, shared by every module."""

from flask import flash, request
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from webapp.guard import MAX_PAGE
from webapp.labels import filter_name


class PageArgs(Schema):
    """The base of every list page's `*FilterArgs`: page and page size; blank and unknown arguments ignored."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=200))

    @pre_load
    def drop_blanks(self, data, **_kwargs):
        if not hasattr(data, "items"):
            return data  # marshmallow answers "Invalid input type" for it
        stripped = {key: value.strip() if isinstance(value, str) else value for key, value in dict(data).items()}
        return {key: value for key, value in stripped.items() if value not in ("", None)}


def load_filters(schema: Schema) -> dict:
    """The request's filters through `schema`; filters it cannot read are named to the user and ignored."""
    try:
        return schema.load(request.args)
    except ValidationError as error:
        flash(_("Some filters were not understood and were ignored: %(fields)s",
                fields=", ".join(sorted({filter_name(name) for name in error.messages}))), "error")
        return schema.load({})
