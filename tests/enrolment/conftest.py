"""Enrolment tests read refusals raised outside a request in English."""

from __future__ import annotations

import flask_babel
import pytest


@pytest.fixture(autouse=True)
def _english_outside_requests(app, _transaction, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    flask_babel.refresh()
