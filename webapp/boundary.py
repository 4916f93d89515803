"""The transaction boundary: one commit per request, job or command, and one way a refusal reaches a person.

A request commits once when its view returns a response below 400 and rolls back otherwise. Views, tasks and
commands never call `commit()` or `rollback()`: operations flush, the boundary decides.

A domain refusal is a `Refusal` (or a subclass): a translated message, optional field errors, and whether the
refusal itself leaves a record that must be kept (a failed sign-in counts, a wrong authenticator code is audited).
Raised out of a view it becomes a 422 with field errors on the API and a flashed message on pages, here and
nowhere else. A view that shows the refusal itself (a form with its errors) catches it with `caught_refusal()`,
which also tells the boundary to roll the request back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, g, has_request_context, jsonify, redirect, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from webapp.extensions import db
from webapp.redirects import local_path

_REFUSED = "srsp_refusal"


class Refusal(Exception):
    """A request the rules do not allow. Nothing it did is kept unless `keep` (the refusal is itself a record).

    `message` is a lazy translatable string (`lazy_gettext("…", name=value)`), rendered in the reader's language
    when shown; `errors` maps field names to such messages for forms and the API.
    """

    keep = False
    status = 422

    def __init__(self, message=None, *, errors: dict | None = None, keep: bool | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if keep is not None:
            self.keep = keep

    def __str__(self) -> str:
        if self.message is not None:
            return str(self.message)
        return "; ".join(str(item) for messages in self.errors.values() for item in _as_list(messages))

    def field_errors(self) -> dict[str, list[str]]:
        """{field: [message, …]} in the reader's language."""
        return {field: [str(item) for item in _as_list(messages)] for field, messages in self.errors.items()}


def _as_list(messages) -> list:
    return list(messages) if isinstance(messages, list | tuple) else [messages]


# --- requests ---------------------------------------------------------------------------------------------------


def dispatch(view: Callable[[], object]):
    """Run the view for the current request inside the boundary; returns the response."""
    try:
        returned = view()
    except Refusal as refusal:
        _end(keep=refusal.keep)
        return refusal_response(refusal)
    except ValidationError as error:
        _end(keep=False)
        return validation_response(error)
    except BaseException:
        _end(keep=False)
        raise
    response = current_app.make_response(returned)
    refused = g.pop(_REFUSED, None)
    _end(keep=refused.keep if refused is not None else response.status_code < 400)
    return response


def _end(keep: bool) -> None:
    if keep:
        try:
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    else:
        db.session.rollback()


@dataclass
class Caught:
    refusal: Refusal | None = None

    @property
    def errors(self) -> dict[str, list[str]]:
        return self.refusal.field_errors() if self.refusal else {}

    def __bool__(self) -> bool:
        return self.refusal is not None


@contextmanager
def caught_refusal(flash_it: bool = True) -> Iterator[Caught]:
    """Catch a refusal raised inside the block: flash it (unless told not to) and have the request rolled back
    (unless the refusal keeps its record). The view then renders or redirects as it sees fit."""
    caught = Caught()
    try:
        yield caught
    except Refusal as refusal:
        caught.refusal = refusal
        if has_request_context():
            g.setdefault(_REFUSED, refusal)
            if flash_it and refusal.message is not None:
                flash(str(refusal), "error")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def refusal_response(refusal: Refusal):
    if wants_json():
        body = {"error": str(refusal)}
        if refusal.errors:
            body["errors"] = refusal.field_errors()
        return jsonify(body), refusal.status
    flash(str(refusal), "error")
    return redirect(_back())


def validation_response(error: ValidationError):
    errors = flatten_errors(error.messages if isinstance(error.messages, dict) else {"_schema": error.messages})
    if wants_json():
        return jsonify({"error": _("Unprocessable Entity"), "errors": errors}), 422
    for messages in errors.values():
        for message in messages:
            flash(message, "error")
    return redirect(_back())


def _back() -> str:
    """Where a refused page action returns: the page it came from (same site only), else the user's home."""
    referrer = request.referrer
    if referrer:
        parts = urlsplit(referrer)
        path = local_path(parts.path + (f"?{parts.query}" if parts.query else ""))
        if parts.netloc == request.host and path:
            return path
    from flask_login import current_user

    from webapp.home import home_url

    return home_url(current_user) if current_user.is_authenticated else "/login"


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested errors as {"members.0.pin": ["…"]}, with lazy strings made plain."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and all(not isinstance(item, dict | list) for item in messages):
        flat[prefix or "_schema"] = [str(item) for item in messages]
    elif isinstance(messages, list):
        for item in messages:
            flat.update(flatten_errors(item, prefix))
    else:  # a lone lazy string: marshmallow keeps a non-str message as it is, not wrapped in a list
        flat[prefix or "_schema"] = [str(messages)]
    return flat


# --- jobs and commands ------------------------------------------------------------------------------------------


@contextmanager
def unit_of_work() -> Iterator[None]:
    """The boundary for work outside a request (a job, a command, a scheduled run): commit once at the end,
    roll back on any exception (a refusal that keeps its record is committed, then re-raised)."""
    try:
        yield
    except Refusal as refusal:
        _end(keep=refusal.keep)
        raise
    except BaseException:
        _end(keep=False)
        raise
    _end(keep=True)


def command_boundary(command: Callable) -> Callable:
    """For click commands: run in one unit of work; a refusal prints its message and exits with status 1."""

    @wraps(command)
    def wrapped(*args, **kwargs):
        import click

        try:
            with unit_of_work():
                return command(*args, **kwargs)
        except Refusal as refusal:
            raise click.ClickException(str(refusal)) from None

    return wrapped
