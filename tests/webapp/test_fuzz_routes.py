"""Every route and form, sent input no person should send: no answer is a server error, API answers stay JSON,
and a refused request changes no rows.

The routes come from the application's URL map and the field names from its templates and forms, so a route or
field added later is fuzzed without touching this file. Two passes: a sweep that sends each kind of bad value to
every route (so each is covered on every run), then hypothesis generating mixtures of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]
# Routes that end the signed-in session; fuzzing them would leave the rest of the run signed out.
SKIPPED = {"auth.logout"}
# Rows a refusal may keep on purpose (the audit of a refused sign-in or code, failure counters).
KEPT_ON_REFUSAL = {"audit_event", "sign_in_failure"}
ROLES = ["registrar", "finance_maker", "finance_checker", "analyst", "admin", "social_worker"]

NASTY = {
    "nul": ["a\x00b", "\x00"],
    "control": ["\x1b[2J", "\x07", "\x7f"],
    "huge number": ["99999999999999999999", "2147483648", "1e30", "-9223372036854775809", "1" * 400],
    "odd digits": ["3²²²²²²²²²²²²²", "١٢٣", "𝟙𝟚𝟛", "１２３", "½"],
    "long": ["x" * 1_500, "ы" * 1_500],
    "shapes": ["", " ", "../../etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "%00", "null", "[]",
               "2026-02-30", "0000-00-00", "-1", "1.5", "NaN", "Infinity"],
}
ALL_NASTY = [value for values in NASTY.values() for value in values]
NASTY_JSON = ["[" * 5_000 + "]" * 5_000, "[" * 100_000, '{"a": ' + "9" * 400 + "}", '{"a": "\\u0000"}',
              '{"a": 1e999}', '{"members": [' + ",".join(["{}"] * 5_000) + "]}", "NaN", '"' + "x" * 300_000 + '"']


def _field_names() -> list[str]:
    names = set()
    for template in ROOT.glob("*/**/templates/**/*.html"):
        names |= set(re.findall(r'name="([a-zA-Z_][\w\-]*)"', template.read_text(encoding="utf-8")))
    for source in list(ROOT.glob("webapp/**/forms.py")) + list(ROOT.glob("modules/**/forms.py")):
        names |= set(re.findall(r"^\s+([a-z_]+) = \w+Field\(", source.read_text(encoding="utf-8"), re.M))
    names |= {"page", "per_page", "param-income_threshold", "members-0-pin", "members-0-relation", "lang",
              "as_of", "month", "resolution", "amount", "file_format"}
    return sorted(names - {"csrf_token", "viewport"})


FIELDS = _field_names()


def _routes(app) -> list[tuple[str, str, object]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in SKIPPED:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule))
    return routes


def _path(rule, value: str, number: int) -> str:
    """The rule's address with each variable part filled: numbers for <int:…>, `value` for the others."""
    def fill(match):
        converter = match.group(1) or "default"
        # A path part never carries "/", "?" or "#": those would make another address, not a bad value in this one.
        return str(number) if converter == "int" else re.sub(r"[/?#]", "_", value) or "x"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", fill, rule.rule)


def _row_counts() -> dict[str, int]:
    tables = sorted(db.metadata.tables)
    query = " UNION ALL ".join(f"SELECT '{name}', count(*) FROM \"{name}\"" for name in tables)
    return dict(db.session.execute(text(query)).all())


class Fuzzer:
    def __init__(self, app):
        self.app = app
        self.clients = {}
        self.failures: list[str] = []
        self.sent = 0

    def client(self, role: str):
        if role not in self.clients:
            client = self.app.test_client()
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
            user = factories.make_user(role, national=True) if role not in ("finance_maker", "finance_checker",
                                                                              "analyst", "admin") \
                else factories.make_user(role)
            self.clients[role] = sign_in(client, user)
        return self.clients[role]

    def send(self, role: str, method: str, path: str, fields: dict | None = None, body: str | None = None) -> None:
        client = self.client(role)
        before = _row_counts()
        kwargs = {}
        if body is not None:
            kwargs = {"data": body, "content_type": "application/json"}
        elif method == "GET":
            kwargs = {"query_string": fields or {}}
        else:
            kwargs = {"data": {**(fields or {}), "csrf_token": client.csrf}}
        self.sent += 1
        where = f"{role} {method} {path!r} {str(fields or body)[:120]!r}"
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as error:  # noqa: BLE001 - a crash is what this test looks for
            db.session.rollback()
            self.failures.append(f"{where}: raised {type(error).__name__}: {str(error)[:200]}")
            return
        # 503 is an honest answer when a registry the route needs is down (here: no civil registry runs).
        if response.status_code >= 500 and response.status_code != 503:
            self.failures.append(f"{where}: answered {response.status_code}")
        if path.startswith("/api/") and not response.is_json and response.status_code >= 400:
            self.failures.append(f"{where}: answered {response.status_code} in {response.mimetype}, not JSON")
        if response.status_code >= 400:
            after = _row_counts()
            changed = {name for name in after if after[name] != before[name]} - KEPT_ON_REFUSAL
            if changed:
                self.failures.append(f"{where}: refused with {response.status_code} yet changed {sorted(changed)}")

    def report(self):
        assert not self.failures, f"{len(self.failures)} of {self.sent} requests failed:\n" + "\n".join(
            self.failures[:40])


def _role_for(endpoint: str) -> str:
    prefix = endpoint.split(".")[0]
    return {"payments": "finance_maker", "admin": "admin", "means_test": "analyst"}.get(prefix, "registrar")


def test_every_route_survives_each_kind_of_bad_value(app):
    fuzzer = Fuzzer(app)
    for endpoint, method, rule in _routes(app):
        role = _role_for(endpoint)
        for kind, values in NASTY.items():
            value = values[0]
            fields = {name: value for name in FIELDS}
            fuzzer.send(role, method, _path(rule, value, 2**31 if kind == "huge number" else 1), fields)
        if rule.rule.startswith("/api/") and method == "POST":
            for body in NASTY_JSON:
                fuzzer.send(role, method, _path(rule, "x", 1), body=body)
    fuzzer.report()


@st.composite
def _requests(draw, routes):
    endpoint, method, rule = draw(st.sampled_from(routes))
    value = draw(st.one_of(st.sampled_from(ALL_NASTY), st.text(max_size=40)))
    number = draw(st.one_of(st.integers(min_value=0, max_value=2**64), st.sampled_from([1, 2**31 - 1, 2**31])))
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=8, unique=True))
    fields = {name: draw(st.one_of(st.sampled_from(ALL_NASTY), st.text(max_size=60))) for name in names}
    body = None
    if rule.rule.startswith("/api/") and method == "POST":
        body = draw(st.one_of(st.sampled_from(NASTY_JSON), st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                             max_size=4),
            max_leaves=20).map(json.dumps)))
    role = draw(st.sampled_from(ROLES + [_role_for(endpoint)]))
    return role, method, _path(rule, value, number), fields, body


@pytest.fixture
def fuzzer(app):
    return Fuzzer(app)


def test_generated_bad_input_never_reaches_a_server_error(app, fuzzer):
    routes = _routes(app)

    @settings(max_examples=80, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_requests(routes))
    def run(request):
        role, method, path, fields, body = request
        fuzzer.send(role, method, path, fields, body)

    run()
    fuzzer.report()
