"""Births and deaths from the civil registry: `srsp sources subscribe` against the live simulator, and its signed
notifications arriving at a live SRSP server (`POST /api/v1/dci/notify`).

The SRSP app here is the test's own (own SQLite file, committed data): the notify handler runs in the live
server's threads, so it must see committed rows, and the test must not hold a write transaction while it waits.
"""

from __future__ import annotations

import copy
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from connectors.registry import connectors_for
from connectors.transport.dci import EVENT_BIRTH, EVENT_DEATH, Keyring, VitalEvent, build_notify
from modules.registration import civil_events
from modules.registration.models import HouseholdMember, Person
from tests.civil_registry import death_notify as _death_notify
from tests.means_test.conftest import simulator, simulator_store  # noqa: F401 - pytest fixtures
from webapp.extensions import db
from webapp.models.audit import AuditEvent

pytestmark = pytest.mark.committed


# The helpers return plain values and end their transaction: SQLite transactions begin IMMEDIATE here, so a read
# left open (or an expired ORM object loading itself again) would hold the lock the live server needs to write.


def _audits(action: str, object_id=None) -> list[dict]:
    """The `details` of the audit events of `action` (on `object_id`), oldest first."""
    query = select(AuditEvent.details).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    details = list(db.session.scalars(query.order_by(AuditEvent.id)))
    db.session.rollback()
    return details


def _person(pin: str):
    """(id, death_date) of the registry's person with this PIN, or None."""
    row = db.session.execute(select(Person.id, Person.death_date).where(Person.pin == pin)).first()
    db.session.rollback()
    return row


def _living_non_heads(count):
    """(id, pin) of `count` different living people of the registry who are not heads of households."""
    non_heads = select(HouseholdMember.person_id).where(HouseholdMember.relation != "head")
    rows = db.session.execute(select(Person.id, Person.pin)
                              .where(Person.death_date.is_(None), Person.id.in_(non_heads))
                              .order_by(func.random()).limit(count)).all()
    db.session.rollback()
    assert len(rows) == count
    return rows


def _living_non_head():
    """(id, pin) of a living person of the registry who is not the head of a household."""
    (row,) = _living_non_heads(1)
    return row


def test_subscription_is_registered_at_the_civil_registry(srsp):
    _app, notify_url, sim_state = srsp
    (mine,) = [s for s in sim_state.subscriptions() if s["uri"] == notify_url]
    assert mine["sender_id"] == "srsp"
    assert mine["event_types"] == sorted([EVENT_BIRTH, EVENT_DEATH])


def test_emitted_deaths_and_births_are_recorded_and_audited(srsp, ctx, simulator):  # noqa: F811
    _app, notify_url, _sim_state = srsp
    _sim, sim_url = simulator
    before = len(_audits(civil_events.DEATH_RECORDED))
    emitted = httpx.post(f"{sim_url}/_control/vital-events/emit", json={"births": 1, "deaths": 2, "seed": 20261},
                         timeout=10).json()
    (outcome,) = [o for o in emitted["notified"] if o["uri"] == notify_url]
    assert outcome["status"] == 200 and outcome["ack"] == "ACK", outcome

    deaths = [e for e in emitted["events"] if e["event"] == "death"]
    (birth,) = [e for e in emitted["events"] if e["event"] == "birth"]
    assert len(deaths) == 2
    for event in deaths:
        person = _person(event["pin"])
        assert person is not None, "the registry copied every living person"
        assert person.death_date == date.fromisoformat(event["date"])
        (details,) = _audits(civil_events.DEATH_RECORDED, person.id)
        assert details["pin"] == event["pin"]
        assert details["source"] == "civil_registry"
    assert len(_audits(civil_events.DEATH_RECORDED)) == before + 2
    (birth_audit,) = _audits(civil_events.BIRTH_NOTIFIED, birth["pin"])
    assert birth_audit["birth_date"] == birth["date"]
    assert _person(birth["pin"]) is None  # the child arrives with the next population-register refresh


def test_replayed_notify_changes_nothing_more(srsp, ctx):
    _app, notify_url, sim_state = srsp
    person = _living_non_head()
    envelope = _death_notify(sim_state.keyring, person.pin, date(2026, 9, 30))

    first = httpx.post(notify_url, json=envelope, timeout=10)
    assert first.status_code == 200, first.text
    assert first.json()["message"]["ack_status"] == "ACK"
    assert _person(person.pin).death_date == date(2026, 9, 30)
    assert len(_audits(civil_events.DEATH_RECORDED, person.id)) == 1

    again = httpx.post(notify_url, json=envelope, timeout=10)
    assert again.status_code == 200 and again.json()["message"]["ack_status"] == "ACK"
    assert len(_audits(civil_events.DEATH_RECORDED, person.id)) == 1

    birth = {"event": "birth", "date": "2026-09-30", "pin": "99999999999990", "related_pin": person.pin}
    births = sim_state.keyring.sign(build_notify("civil-registry", "srsp", [VitalEvent(EVENT_BIRTH, birth)]))
    for _ in range(2):
        assert httpx.post(notify_url, json=births, timeout=10).status_code == 200
    assert len(_audits(civil_events.BIRTH_NOTIFIED, "99999999999990")) == 1


def test_unknown_pin_is_acknowledged_and_ignored(srsp, ctx):
    _app, notify_url, sim_state = srsp
    before = len(_audits(civil_events.DEATH_RECORDED))
    response = httpx.post(notify_url, json=_death_notify(sim_state.keyring, "00000000000000", date(2026, 9, 1)),
                          timeout=10)
    assert response.status_code == 200 and response.json()["message"]["ack_status"] == "ACK"
    assert len(_audits(civil_events.DEATH_RECORDED)) == before


def _refused(notify_url: str, envelope: dict, pins: list[str], status: int = 401) -> None:
    before = len(_audits(civil_events.DEATH_RECORDED))
    response = httpx.post(notify_url, json=envelope, timeout=10)
    assert response.status_code == status, response.text
    assert response.json()["message"]["ack_status"] == "ERR"
    for pin in pins:
        assert _person(pin).death_date is None
    assert len(_audits(civil_events.DEATH_RECORDED)) == before


def test_tampered_notify_is_refused(srsp, ctx):
    _app, notify_url, sim_state = srsp
    signed_for, swapped_in = _living_non_heads(2)
    envelope = _death_notify(sim_state.keyring, signed_for.pin, date(2026, 9, 29))
    tampered = copy.deepcopy(envelope)
    tampered["message"]["notify_event"][0]["data"]["reg_records"]["pin"] = swapped_in.pin
    _refused(notify_url, tampered, [signed_for.pin, swapped_in.pin])


def test_notify_signed_by_an_unknown_key_is_refused(srsp, ctx):
    _app, notify_url, _sim_state = srsp
    person = _living_non_head()
    _refused(notify_url, _death_notify(Keyring.generate("civil-registry"), person.pin, date(2026, 9, 28)),
             [person.pin])


def test_notify_signed_by_another_trusted_sender_is_refused(srsp, ctx):
    """Our own key verifies (it is on our keyring), but only the civil registry may notify deaths."""
    app, notify_url, _sim_state = srsp
    person = _living_non_head()
    own = connectors_for(app)["civil_registry"].client.keyring
    _refused(notify_url, _death_notify(own, person.pin, date(2026, 9, 27)), [person.pin])


def test_malformed_notify_is_a_bad_request(srsp, ctx):
    _app, notify_url, sim_state = srsp
    response = httpx.post(notify_url, content=b"not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"

    person = _living_non_head()
    envelope = build_notify("civil-registry", "srsp", [VitalEvent(EVENT_DEATH, {"event": "death", "pin": person.pin})])
    _refused(notify_url, sim_state.keyring.sign(envelope), [person.pin], status=400)
