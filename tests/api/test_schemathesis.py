"""Schemathesis against the live app: every operation of the OpenAPI document gets generated requests over HTTP
(werkzeug's server on 127.0.0.1, the test's database), and no answer may be a server error, an undocumented status
or a body the document does not describe.

The server serves one request at a time in its thread while the test waits for the answer, so it can share the
test's connection and transaction: what the run creates is rolled back with the test. The DCI receivers (notify,
on-search, on-subscribe) are left out: their requests are signed envelopes, tested in their own modules.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from modules.grievances import operations as cases
from tests import factories
from tests.connectors.transport import live_server

EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def live_api(app):
    with live_server(app, threaded=False) as url:
        yield url


@pytest.fixture
def api_schema(live_api):
    return schemathesis.openapi.from_url(f"{live_api}/api/v1/openapi.json").exclude(path_regex=r"^/api/v1/dci/")


@pytest.fixture
def registrar_token():
    """A registrar (every API permission) with an application and a case in their district to list and read."""
    registrar = factories.make_user("registrar", areas=["UZ-TK"])
    factories.register_family(registrar)
    cases.open_case({"kind": "enquiry", "category": "status_enquiry", "description": "When is the decision?"},
                    registrar)
    return factories.bearer(registrar)


# What the input guard refuses in any field (webapp/guard.py): valid requests leave it out, so that they get past
# the guard to the views; the invalid ones keep it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_SPACE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain(value, pattern=_CONTROL):
    if isinstance(value, str):
        return pattern.sub("", value)
    if isinstance(value, dict):
        return {_plain(key, pattern): _plain(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, pattern) for item in value]
    return value


def _past_the_guard(case):
    case.query = _plain(case.query)
    case.body = _plain(case.body)
    case.path_parameters = _plain(case.path_parameters, _CONTROL_OR_SPACE_CONTROL)
    return case


def _fuzz(operation, base_url: str, headers: dict, statuses: Counter) -> None:
    """Valid requests and, mixed in, requests the document says are invalid (which must be refused, not fail)."""

    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE).map(_past_the_guard),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        statuses[case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS).status_code] += 1

    run()


def test_every_operation_answers_as_documented(api_schema, live_api, registrar_token):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    failures, answers = [], {}
    for operation in operations:
        statuses = answers[operation.label] = Counter()
        try:
            _fuzz(operation, live_api, registrar_token, statuses)
        except Exception as error:  # noqa: BLE001  (every operation runs; the failures are reported together)
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
    # A run refused at the door (a token that no longer opens the API) would conform too: the reads must answer.
    reads = [operation.label for operation in operations if operation.method.upper() == "GET" and "{" not in
             operation.path]
    assert all(answers[label][200] for label in reads), answers
