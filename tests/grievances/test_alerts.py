"""Alerts from events, as rules: the pack's alert rules, a death reported by the civil registry (a suspended
enrolment, one alert, a payroll that leaves the deceased out) and a payment the bank failed."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import func, select, update

from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.grievances.alerts import on_payment_failed
from modules.grievances.models import Case, CaseKind, CaseStatus
from modules.payments import generation, reconciliation
from modules.payments.models import LineStatus
from modules.registration import civil_events
from modules.registration.models import Household
from rules.alerts import EVENT_FIELDS, EventError, matching
from rules.pack import PACK_DIR, PackError, get_pack, load_pack
from tests import factories
from tests.civil_registry import death_notify as _death_notify
from tests.factories import PAYMENT_AMOUNT as AMOUNT
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.means_test.conftest import simulator, simulator_store  # noqa: F401 - pytest fixtures
from webapp.extensions import db
from webapp.models import Area, AuditEvent, User
from webapp.programmes import load_programmes

# --- the rules layer -------------------------------------------------------------------------------------------


def test_alert_rules_load_from_the_pack_and_the_rules_layer_matches_them():
    pack = get_pack("uz")
    rules = {rule.id: rule for rule in pack.alerts}
    death, payment = rules["beneficiary_died"], rules["payment_not_delivered"]
    assert (death.event, death.category, death.priority, death.suspend_enrolments) == \
        ("death_reported", "death_reported", 1, True)
    assert (payment.event, payment.category, payment.suspend_enrolments) == ("payment_failed", "payment_failed", False)
    assert all(set(rule.action) == {"uz", "ru", "en"} for rule in pack.alerts)
    assert "recalculate" in death.action_text("en")

    event = {"kind": "death_reported", "enrolled": True, "household_enrolled": True, "age": 9}
    assert matching(pack, event) == [death]
    assert matching(pack, {**event, "enrolled": False, "household_enrolled": False}) == []
    assert matching(pack, {"kind": "payment_failed", "returned": True, "amount": 250000}) == [payment]
    with pytest.raises(EventError):
        matching(pack, {"kind": "death_reported", "enrolled": True})
    assert set(EVENT_FIELDS) >= {rule.event for rule in pack.alerts}


def test_every_alert_rule_of_every_pack_opens_an_alert_category():
    from modules.grievances.categories import category
    from rules.pack import pack_ids

    for pack_id in pack_ids():
        for rule in get_pack(pack_id).alerts:
            found = category(rule.category)
            assert found is not None and CaseKind.alert in found.kinds, (pack_id, rule.id)


def test_an_alert_rule_naming_a_field_its_event_does_not_carry_is_refused():
    text = (PACK_DIR / "uz.yaml").read_text(encoding="utf-8").replace("when: amount > 0", "when: income > 0")
    with pytest.raises(PackError, match="alert payment_not_delivered: when.*unknown name 'income'"):
        load_pack(PACK_DIR / "uz.yaml", text)


# --- a death reported by the civil registry ----------------------------------------------------------------------


def _alerts(**where) -> list[Case]:
    query = select(Case).where(Case.kind == CaseKind.alert)
    for name, value in where.items():
        query = query.where(getattr(Case, name) == value)
    return list(db.session.scalars(query.order_by(Case.id)))


def test_a_death_suspends_the_enrolment_opens_one_alert_and_the_payroll_leaves_it_out(app):
    family = factories.assessed_family()
    child, sibling = family["children"]
    deceased_enrolment = factories.enrol(family, child)
    other = factories.enrol(family, sibling)
    worker = factories.make_user("social_worker", areas=[db.session.get(Area, family["household"].area_id).code])

    for _ in range(2):  # the registry sends the same death again: one alert, one suspension
        civil_events.apply_events([("death", child.pin, date(2025, 12, 20))], "MSG-1")

    (case,) = _alerts(household_id=family["household"].id)
    assert (case.category_code, case.priority, case.person_id, case.enrolment_id) == \
        ("death_reported", 1, child.id, deceased_enrolment.id)
    assert (case.assignee_id, case.status) == (worker.id, CaseStatus.assigned)
    assert case.source_key == f"beneficiary_died:person:{child.id}"
    assert "recalculat" in case.description.lower() or "qayta hisob" in case.description
    assert deceased_enrolment.status is EnrolmentStatus.suspended and other.status is EnrolmentStatus.active
    suspensions = list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "enrolment", AuditEvent.object_id == str(deceased_enrolment.id))))
    assert suspensions == ["enrolment.suspended"]
    actions = list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id)).order_by(AuditEvent.id)))
    assert actions == ["case.opened", "case.alert_raised", "case.assigned"]

    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, factories.make_user("finance_maker",
                                                                                         national=True))
    paid = {line.enrolment_id for line in factories.payroll_lines(payroll)}
    assert other.id in paid and deceased_enrolment.id not in paid


@pytest.mark.committed
def test_a_signed_death_notify_suspends_the_enrolment_raises_one_alert_and_the_payroll_leaves_it_out(
        srsp, ctx):
    """End to end: the civil registry's signed notify, sent twice to the live server, then next month's payroll."""
    _app, notify_url, sim_state = srsp
    load_programmes()
    family = factories.assessed_family()
    child, sibling = family["children"]
    dead, other = factories.enrol(family, child), factories.enrol(family, sibling)
    dead_id, other_id, child_id, pin, household_id = dead.id, other.id, child.id, child.pin, family["household"].id
    db.session.commit()  # the live server's threads see committed rows only; no transaction is left open here

    envelope = _death_notify(sim_state.keyring, pin, date(2025, 12, 20))
    for _ in range(2):
        response = httpx.post(notify_url, json=envelope, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["message"]["ack_status"] == "ACK"

    (case,) = _alerts(household_id=household_id)
    assert (case.category_code, case.person_id, case.enrolment_id) == ("death_reported", child_id, dead_id)
    assert db.session.get(Enrolment, dead_id).status is EnrolmentStatus.suspended
    assert db.session.get(Enrolment, other_id).status is EnrolmentStatus.active
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, factories.make_user("finance_maker",
                                                                                         national=True))
    paid = {line.enrolment_id for line in factories.payroll_lines(payroll)}
    db.session.rollback()  # the payroll was only to look at
    assert other_id in paid and dead_id not in paid


def test_a_death_outside_any_enrolled_household_raises_no_alert(app):
    family = factories.make_family()
    civil_events.apply_events([("death", family["head"].pin, date(2025, 12, 20))], "MSG-2")
    assert _alerts(household_id=family["household"].id) == []


def test_without_a_worker_in_the_area_the_alert_waits_in_the_area_queue(app):
    # Nobody who handles alerts works anywhere (users left by other tests included), up to the region.
    db.session.execute(update(User).values(active=False))
    family = factories.assessed_family()
    factories.enrol(family, family["children"][0])
    civil_events.apply_events([("death", family["children"][0].pin, date(2025, 12, 21))], "MSG-3")
    (case,) = _alerts(household_id=family["household"].id)
    assert (case.assignee_id, case.status, case.area_id) == (None, CaseStatus.new, family["household"].area_id)


# --- a payment the bank failed or returned -------------------------------------------------------------------------


def test_a_failed_payment_line_raises_one_alert_to_verify_the_account(app):
    payroll, (a, b, _c) = factories.sent_payroll()
    data = factories.camt054([(a.end_to_end_id, AMOUNT, "returned"), (b.end_to_end_id, AMOUNT, "paid")])
    reconciliation.import_statement(data, "ntf.xml")
    reconciliation.import_statement(data, "again.xml")  # the same file again
    on_payment_failed([a.id], "returned")  # the event delivered once more

    db.session.refresh(a)
    assert a.status is LineStatus.returned
    (case,) = _alerts(payroll_line_id=a.id)
    assert (case.category_code, case.enrolment_id, case.source_key) == \
        ("payment_failed", a.enrolment_id, f"payment_not_delivered:payroll_line:{a.id}")
    household = db.session.get(Household, db.session.get(Enrolment, a.enrolment_id).household_id)
    assert (case.area_id, case.household_id) == (household.area_id, household.id)
    assert "bank account" in case.description or "hisob raqam" in case.description or "счёт" in case.description
    assert db.session.scalar(select(func.count(Case.id)).where(Case.payroll_line_id == b.id)) == 0
