"""Fixtures for the registration tests.

Operations are called directly inside a test request context with Accept-Language: en, so refusal messages
are the English source strings (outside a request they would be in the default language, Uzbek). Test requests
share the test's app context and `g` (the root conftest clears `g` before each request); after each request
`g` is cleared again, so the test's own request context does not inherit the signed-in user or the locale of
the last request.
"""

from __future__ import annotations

import pytest
from flask import g, request_finished

from tests import factories

_REQUEST_STATE = ("_login_user", "csrf_token", "csrf_valid", "_flask_babel")


def pytest_configure(config):
    config.addinivalue_line("markers", "no_request_context: run without the English test request context")


def _reset_request_state(_sender, **_extra) -> None:
    for key in _REQUEST_STATE:
        g.pop(key, None)


@pytest.fixture(autouse=True)
def _request_isolation(request, app, _transaction):
    request_finished.connect(_reset_request_state, app)
    ctx = None
    if not request.node.get_closest_marker("no_request_context"):
        ctx = app.test_request_context(headers={"Accept-Language": "en"})
        ctx.push()
    try:
        yield
    finally:
        if ctx is not None:
            ctx.pop()
        request_finished.disconnect(_reset_request_state, app)


@pytest.fixture
def set_today(app, monkeypatch):
    """Pin operations.today(); monkeypatch restores app.config after the test."""

    def pin(day):
        monkeypatch.setitem(app.config, "TODAY_OVERRIDE", day)
        return day

    return pin


@pytest.fixture
def set_holidays(app, monkeypatch):
    def configure(days):
        monkeypatch.setitem(app.config, "PUBLIC_HOLIDAYS", list(days))

    return configure


@pytest.fixture
def tk_registrar(app):
    return factories.make_user("registrar", areas=["UZ-TK"])


@pytest.fixture
def sa_registrar(app):
    return factories.make_user("registrar", areas=["UZ-SA"])
