"""Query-string filters of list pages, shared by every module."""

from flask import flash, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError


def load_filters(schema: Schema) -> dict:
    """The request's filters through `schema`; filters it cannot read are named to the user and ignored."""
    try:
        return schema.load(request.args)
    except ValidationError as error:
        flash(_("Some filters were not understood and were ignored: %(fields)s",
                fields=", ".join(sorted(error.messages))), "error")
        return schema.load({})
