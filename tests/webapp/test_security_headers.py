"""Security headers on every response: a content security policy that keeps the pages working, no framing
(the payroll approval page cannot be click-jacked), nosniff, a referrer policy, a permissions policy; secure
cookies over TLS."""

import re
from pathlib import Path

import pytest
from flask import Flask

from tests import factories
from tests.conftest import sign_in
from webapp import security_headers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted([*ROOT.glob("webapp/**/templates/**/*.html"), *ROOT.glob("modules/*/templates/**/*.html")])


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def _assert_protected(response) -> None:
    headers = response.headers
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "scripts from this site only: no inline script, no eval"
    assert policy["frame-ancestors"] == ["'none'"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {"same-origin", "strict-origin-when-cross-origin"}
    assert "camera=()" in headers["Permissions-Policy"]


def test_pages_answers_and_files_carry_the_headers(app, client):
    checker = factories.make_user("finance_checker", national=True)
    responses = [client.get("/login"), client.get("/no-such-page"), client.get("/static/style.css"),
                 client.get("/api/v1/applications")]
    sign_in(client, checker)
    responses += [client.get("/payrolls"), client.get("/account/authenticator")]
    assert [response.status_code for response in responses] == [200, 404, 200, 401, 200, 200]
    for response in responses:
        _assert_protected(response)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_templates_have_no_inline_script_the_policy_would_block(template):
    html = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>: move it to a static file"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler: use a static script"
    assert "javascript:" not in html


@pytest.mark.parametrize("secure", [True, False])
def test_the_remember_me_cookie_is_as_secure_as_the_session_cookie(secure):
    app = Flask("secure_cookies")
    app.config["SESSION_COOKIE_SECURE"] = secure
    security_headers.install(app)
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
