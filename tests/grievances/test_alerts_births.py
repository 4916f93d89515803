"""A birth the civil registry notifies into a household receiving benefits raises one alert proposing the child
allowance (found through the mother's PIN the record carries); a replayed notify raises nothing more, and a birth
into a household without benefits, to an unknown mother or without a mother's PIN raises nothing."""

from __future__ import annotations

import itertools
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from connectors.transport.dci import EVENT_BIRTH, VitalEvent, build_notify
from modules.grievances.alerts import on_birth
from modules.grievances.models import Case, CaseChannel, CaseKind, CaseStatus
from modules.registration import civil_events
from tests import factories
from tests.means_test.conftest import simulator, simulator_store  # noqa: F401 - pytest fixtures
from webapp.extensions import db
from webapp.models import Area, AuditEvent
from webapp.programmes import load_programmes

_pins = itertools.count(1)


def _child_pin() -> str:
    return f"5990101{next(_pins):07d}"


def _alerts(**where) -> list[Case]:
    query = select(Case).where(Case.kind == CaseKind.alert)
    for name, value in where.items():
        query = query.where(getattr(Case, name) == value)
    return list(db.session.scalars(query.order_by(Case.id)))


def test_a_birth_into_an_enrolled_household_raises_one_alert_proposing_the_child_allowance(app):
    family = factories.assessed_family()
    factories.enrol(family, family["children"][0])
    worker = factories.make_user("social_worker", areas=[db.session.get(Area, family["household"].area_id).code])
    pin, mother = _child_pin(), family["spouse"]

    for message in ("MSG-B1", "MSG-B2"):  # the registry sends the same birth again: one alert
        civil_events.apply_events([("birth", pin, date(2026, 11, 28), mother.pin)], message)
    on_birth(pin, date(2026, 11, 28), mother.pin, "civil_registry")  # the event delivered once more

    (case,) = _alerts(household_id=family["household"].id)
    assert (case.category_code, case.priority, case.person_id, case.channel) == \
        ("birth_reported", 2, mother.id, CaseChannel.event)
    assert (case.assignee_id, case.status, case.area_id) == (worker.id, CaseStatus.assigned,
                                                             family["household"].area_id)
    assert case.source_key == f"child_born:birth:{pin}"
    assert pin in case.description and "28.11.2026" in case.description
    assert "child allowance" in case.description or "bolalar nafaqasi" in case.description \
        or "пособие на ребёнка" in case.description
    (raised,) = db.session.scalars(select(AuditEvent.details).where(
        AuditEvent.action == "case.alert_raised", AuditEvent.object_id == str(case.id)))
    assert raised["rule"] == "child_born"
    assert raised["event"] == {"kind": "birth_reported", "household_enrolled": True, "children": 2, "pin": pin,
                               "birth_date": "2026-11-28", "source": "civil_registry"}
    opened = db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "case.opened", AuditEvent.object_id == str(case.id)))
    assert opened["channel"] == "event"


def test_a_birth_the_father_is_named_for_finds_the_household_too(app):
    family = factories.assessed_family()
    factories.enrol(family, family["children"][1])
    civil_events.apply_events([("birth", _child_pin(), date(2026, 11, 29), family["head"].pin)], "MSG-B3")
    assert len(_alerts(household_id=family["household"].id)) == 1


def test_births_that_concern_no_household_receiving_benefits_raise_nothing(app):
    without = factories.make_family()
    elsewhere = factories.make_family(household=False)
    ended = factories.assessed_family()
    enrolment = factories.enrol(ended, ended["children"][0])
    from modules.enrolment.models import EnrolmentStatus

    enrolment.status = EnrolmentStatus.ended
    db.session.flush()
    before = len(_alerts())
    counts = civil_events.apply_events([
        ("birth", _child_pin(), date(2026, 11, 20), without["spouse"].pin),  # a household with no enrolment
        ("birth", _child_pin(), date(2026, 11, 20), elsewhere["spouse"].pin),  # a mother in no household
        ("birth", _child_pin(), date(2026, 11, 20), ended["spouse"].pin),  # enrolments ended
        ("birth", _child_pin(), date(2026, 11, 20), "00000000000000"),  # a mother the registry does not know
        ("birth", _child_pin(), date(2026, 11, 20), None),  # no mother named
        ("birth", _child_pin(), date(2026, 11, 20)),  # the three-part form
    ], "MSG-B4")
    assert counts["births_notified"] == 6
    assert len(_alerts()) == before


# --- end to end: the civil registry's signed notify ---------------------------------------------------------------


@pytest.mark.committed
def test_a_signed_birth_notify_raises_one_alert_and_its_replay_none(srsp, ctx):
    """The civil registry's signed notify of a birth to a mother of an enrolled household, sent twice to the live
    server: one alert case; a notify with another birth for a household without benefits: none."""
    _app, notify_url, sim_state = srsp
    load_programmes()
    family = factories.assessed_family()
    factories.enrol(family, family["children"][0])
    plain = factories.make_family()
    household_id, plain_id, mother_id = family["household"].id, plain["household"].id, family["spouse"].id
    child, other = _child_pin(), _child_pin()
    records = [{"event": "birth", "date": "2026-11-30", "pin": child, "related_pin": family["spouse"].pin},
               {"event": "birth", "date": "2026-11-30", "pin": other, "related_pin": plain["spouse"].pin}]
    db.session.commit()  # the live server's threads see committed rows only; no transaction is left open here

    envelope = sim_state.keyring.sign(build_notify("civil-registry", "srsp",
                                                   [VitalEvent(EVENT_BIRTH, record) for record in records]))
    for _ in range(2):
        response = httpx.post(notify_url, json=envelope, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["message"]["ack_status"] == "ACK"

    (case,) = _alerts(household_id=household_id)
    assert (case.category_code, case.person_id, case.source_key, case.channel) == \
        ("birth_reported", mother_id, f"child_born:birth:{child}", CaseChannel.event)
    assert _alerts(household_id=plain_id) == []
    notified = list(db.session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.action == civil_events.BIRTH_NOTIFIED, AuditEvent.object_id.in_([child, other]))))
    db.session.rollback()
    assert sorted(notified) == sorted([child, other])
