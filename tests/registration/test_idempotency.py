"""POST /api/v1/applications with an Idempotency-Key: a resent request returns the first answer and creates nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modules.registration.models import Application
from tests import factories
from tests.registration.helpers import bearer, commit
from webapp.extensions import db
from webapp.models import IdempotencyKey

URL = "/api/v1/applications"


@pytest.fixture
def machine(app):
    return app.test_client()


def _applications() -> int:
    return db.session.scalar(select(func.count()).select_from(Application))


def _send(machine, user, payload, key):
    return machine.post(URL, json=payload, headers=bearer(user) | {"Idempotency-Key": key})


def test_a_resent_request_gets_the_first_answer_and_creates_nothing(machine, tk_registrar):
    payload = factories.application_payload(factories.make_family("UZ-TK", children=1))
    commit()
    before = _applications()
    first = _send(machine, tk_registrar, payload, "k-0001")
    again = _send(machine, tk_registrar, payload, "k-0001")
    assert first.status_code == again.status_code == 201, first.get_data(as_text=True)
    assert again.get_json() == first.get_json() and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _applications() == before + 1


def test_the_same_key_for_a_different_request_is_refused(machine, tk_registrar):
    payload = factories.application_payload(factories.make_family("UZ-TK", children=1))
    other = factories.application_payload(factories.make_family("UZ-TK", children=2))
    commit()
    assert _send(machine, tk_registrar, payload, "k-0002").status_code == 201
    before = _applications()
    refused = _send(machine, tk_registrar, other, "k-0002")
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["Idempotency-Key"]
    assert _applications() == before


def test_a_refused_request_keeps_no_key_so_the_corrected_one_goes_through(machine, tk_registrar):
    payload = factories.application_payload(factories.make_family("UZ-TK", children=1))
    commit()
    bad = _send(machine, tk_registrar, payload | {"phone": "not a phone"}, "k-0003")
    assert bad.status_code == 422
    assert db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "k-0003")) is None
    assert _send(machine, tk_registrar, payload, "k-0003").status_code == 201


def test_keys_belong_to_their_client(machine, tk_registrar):
    other_registrar = factories.make_user("registrar", areas=["UZ-TK"])
    mine = factories.application_payload(factories.make_family("UZ-TK", children=1))
    theirs = factories.application_payload(factories.make_family("UZ-TK", children=1))
    commit()
    assert _send(machine, tk_registrar, mine, "shared").status_code == 201
    assert _send(machine, other_registrar, theirs, "shared").status_code == 201


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "tab\tkey"])
def test_an_unusable_key_is_refused_by_name(machine, tk_registrar, key):
    payload = factories.application_payload(factories.make_family("UZ-TK", children=1))
    commit()
    before = _applications()
    response = _send(machine, tk_registrar, payload, key)
    assert response.status_code == 422 and "Idempotency-Key" in response.get_json()["errors"]
    assert _applications() == before
