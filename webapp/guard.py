"""The input guard: what no request may carry, checked once at the edge for every route that exists or comes later.

A request is refused (400, in the reader's language, JSON on /api/) before any view runs when a query argument,
form field, field name, upload file name or path holds a control character (NUL reaches PostgreSQL as an error,
the others are never typed by people), when a value is longer than any field the system has, or when a JSON body
is too large, too deeply nested, carries a control character or a number no amount can be. Integer parts of
addresses only match within the database's integer range. Per-field limits (a reason's length, a PIN's digits)
stay in the schemas; this is the floor under all of them.
"""

from __future__ import annotations

import json
import math
import re

from flask import request
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# PostgreSQL's `integer`: every id column, page number and count the system keeps.
MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 100_000
# Tab, line feed and carriage return are what people type into a text area; every other control character is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_SPACE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ARG_LENGTH = 2_000
MAX_FIELD_LENGTH = 200_000
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 32
# Eighteen digits hold any amount in so'm with room to spare; longer numbers are typing errors or attacks.
MAX_NUMBER_DIGITS = 18


class InputRefused(BadRequest):
    """A request the guard refuses; `description` is the translated reason shown to the reader."""

    def __init__(self, message):
        super().__init__(description=message)

    @property
    def message(self) -> str:
        return str(self.description)


class BoundedInt(IntegerConverter):
    """`<int:…>` in a route matches 0 … 2³¹−1 only: a larger number is an address that does not exist (404),
    never an overflow in the database."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's name)
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def install(app) -> None:
    """Guard every request of `app`; call before blueprints are registered (the converter applies to their rules)."""
    app.url_map.converters["int"] = BoundedInt
    app.json = GuardedJSONProvider(app)
    app.before_request(check_request)


def check_request() -> None:
    if _CONTROL_OR_SPACE_CONTROL.search(request.path):
        raise InputRefused(_l("The address contains characters that are not allowed."))
    for name, value in request.args.items(multi=True):
        _check_text(name, value, MAX_ARG_LENGTH)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            _check_text(name, value, MAX_FIELD_LENGTH)
        for name, upload in request.files.items(multi=True):
            _check_text(name, name, MAX_ARG_LENGTH)
            if upload.filename and (_CONTROL_OR_SPACE_CONTROL.search(upload.filename) or len(upload.filename) > 255):
                raise InputRefused(_l("The file name contains characters that are not allowed, or is too long. "
                                      "Rename the file and send it again."))


def _check_text(name: str, value: str, limit: int) -> None:
    if _CONTROL.search(name) or _CONTROL.search(value):
        raise InputRefused(_l("The request contains characters that are not allowed (control characters such as "
                              "NUL). Remove them and send it again."))
    if len(value) > limit or len(name) > MAX_ARG_LENGTH:
        raise InputRefused(_l("A value in the request is longer than any field accepts (%(limit)s characters).",
                              limit=f"{limit:,}".replace(",", "\u00a0")))


def read_json(data: bytes | str):
    """Parse a JSON body within the guard's limits; raises InputRefused naming the limit a body goes past, and
    ValueError, as json.loads does, for a body that is not JSON (Flask's `get_json(silent=True)` then gives None)."""
    if len(data) > MAX_JSON_BYTES:
        raise InputRefused(_l("The JSON body is too large."))
    try:
        document = json.loads(data, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_no_constant)
    except RecursionError:
        raise InputRefused(_l("The JSON body is nested too deeply (at most %(depth)d levels).",
                              depth=MAX_JSON_DEPTH)) from None
    _check_document(document)
    return document


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise InputRefused(_l("A number in the JSON body is too large."))
    return int(text)


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number) or len(text) > 40 or abs(number) >= 10**MAX_NUMBER_DIGITS:
        raise InputRefused(_l("A number in the JSON body is too large."))
    return number


def _no_constant(text: str):
    raise ValueError(f"{text} is not a JSON number")


def _check_document(document) -> None:
    """Depth and strings of a parsed document, walked without recursion."""
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputRefused(_l("The JSON body is nested too deeply (at most %(depth)d levels).",
                                  depth=MAX_JSON_DEPTH))
        if isinstance(node, dict):
            for key, value in node.items():
                _check_json_string(key)
                pending.append((value, depth + 1))
        elif isinstance(node, list):
            pending.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            _check_json_string(node)


def _check_json_string(text: str) -> None:
    if _CONTROL.search(text):
        raise InputRefused(_l("The request contains characters that are not allowed (control characters such as "
                              "NUL). Remove them and send it again."))
    if len(text) > MAX_FIELD_LENGTH:
        raise InputRefused(_l("A value in the request is longer than any field accepts (%(limit)s characters).",
                              limit=f"{MAX_FIELD_LENGTH:,}".replace(",", "\u00a0")))


class GuardedJSONProvider(DefaultJSONProvider):
    """`request.get_json()` everywhere parses through the guard; dumping is Flask's own."""

    def loads(self, s, **kwargs):
        return read_json(s)


def json_object() -> dict:
    """The request's JSON body, which must be an object; a marshmallow ValidationError (a 422) otherwise."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationError([_l("The body must be a JSON object.")])
    return payload


def int_arg(name: str, default: int | None = None, low: int = 0, high: int = MAX_ROW_ID) -> int | None:
    """An integer query argument within [low, high]; `default` when it is missing, blank or not a whole number in
    plain digits (a list page then shows its first page rather than an error)."""
    raw = (request.args.get(name) or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return default
    value = int(raw)
    return value if low <= value <= high else default


def page_number() -> int:
    """`?page=` as a page number from 1 to MAX_PAGE; anything else is page 1."""
    return int_arg("page", 1, 1, MAX_PAGE)


class RowId(fields.Integer):
    """A marshmallow field for ids in filters and bodies: a whole number that fits the database's integer."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", False)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ROW_ID))
        super().__init__(**kwargs)

