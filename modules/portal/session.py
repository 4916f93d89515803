"""Who the citizen on this request is: a citizen's sign-in lives in its own part of the session, apart from staff
sign-in (Flask-Login), so a citizen is never a staff user and a staff page never admits one.

The identity providers (SMS code, OpenID Connect) end by calling `sign_in_citizen(person, provider)`; every
portal page asks `current_citizen()` or is wrapped in `citizen_required`. A sign-in lasts IDLE_MINUTES without a
request and at most MAX_HOURS in all.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import redirect, request, session, url_for
from sqlalchemy import select

from modules.registration.models import Person
from webapp import audit
from webapp.extensions import db
from webapp.redirects import local_path
from webapp.timeutil import utcnow

KEY = "citizen"
IDLE_MINUTES = 30
MAX_HOURS = 8


def sign_in_citizen(person: Person, provider: str) -> None:
    """Start the citizen's sign-in (a fresh session: nothing from before it carries over)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    now = utcnow().timestamp()
    session[KEY] = {"person_id": person.id, "provider": provider, "since": now, "seen": now}
    audit.record("citizen.signed_in", "person", person.id, {"provider": provider})


def sign_out_citizen() -> None:
    found = session.pop(KEY, None)
    if found:
        audit.record("citizen.signed_out", "person", found["person_id"], {})


def current_citizen() -> Person | None:
    """The signed-in citizen, or None (never signed in, idle too long, signed in too long, or no longer known)."""
    found = session.get(KEY)
    if not found:
        return None
    now = utcnow().timestamp()
    if now - found["seen"] > timedelta(minutes=IDLE_MINUTES).total_seconds() or \
            now - found["since"] > timedelta(hours=MAX_HOURS).total_seconds():
        session.pop(KEY, None)
        return None
    person = db.session.scalar(select(Person).where(Person.id == found["person_id"]))
    if person is None:
        session.pop(KEY, None)
        return None
    if now - found["seen"] > 60:  # write the cookie again at most once a minute
        session[KEY] = {**found, "seen": now}
    return person


def citizen_required(view):
    """A portal page for a signed-in citizen; others go to the portal's sign-in and come back."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_citizen() is None:
            return redirect(url_for("portal.sign_in", next=local_path(request.full_path)))
        return view(*args, **kwargs)

    return wrapped
