"""The status machine: legal transitions, refusals, the timeline, the audit trail and `is_open`."""

from __future__ import annotations

import html
import itertools
from datetime import date

import pytest
from flask_babel import gettext
from sqlalchemy import func, select

from modules.registration import operations
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationEvent, ApplicationMember
from modules.registration.status import IllegalTransition
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import S, advance, commit, counts, delta, register
from webapp.extensions import db
from webapp.models import AuditEvent

LEGAL = {
    (S.draft, S.submitted), (S.draft, S.withdrawn),
    (S.submitted, S.collecting), (S.submitted, S.withdrawn),
    (S.collecting, S.collected), (S.collecting, S.manual_verification), (S.collecting, S.withdrawn),
    (S.manual_verification, S.collecting), (S.manual_verification, S.withdrawn),
    (S.collected, S.assessed), (S.collected, S.collecting), (S.collected, S.withdrawn),
    (S.assessed, S.decided), (S.assessed, S.withdrawn),
}
ALL_PAIRS = list(itertools.product(list(S), repeat=2))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]
CLOSED = {S.decided, S.withdrawn}


def _ids(pair):
    return f"{pair[0].value}->{pair[1].value}"


def application_in(status, actor, children: int = 1) -> Application:
    family = factories.make_family("UZ-TK", children=children)
    return advance(register(factories.application_payload(family), actor, submit=False), status, actor)


def members_open_in_db(application) -> set[bool]:
    db.session.flush()
    return set(db.session.scalars(select(ApplicationMember.is_open)
                                  .where(ApplicationMember.application_id == application.id)))


def test_the_table_has_exactly_the_expected_transitions():
    assert {(a, b) for a, targets in status_machine.TRANSITIONS.items() for b in targets} == LEGAL
    assert status_machine.CLOSED == frozenset(CLOSED)
    assert all(status_machine.allowed_targets(s) == {b for a, b in LEGAL if a is s} for s in S)


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=_ids)
def test_legal_transition(tk_registrar, pair):
    current, target = pair
    application = application_in(current, tk_registrar)
    before = counts()
    last_audit = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))

    status_machine.transition(application, target, tk_registrar, note="because")
    db.session.flush()

    assert application.status is target
    assert delta(before) == {"application_event": 1, "audit_event": 1}
    event = application.events[-1]
    assert (event.from_status, event.to_status, event.actor_id, event.note) == (
        current.value, target.value, tk_registrar.id, "because")
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.id > last_audit))
    assert (audit.action, audit.object_type, audit.object_id, audit.actor_id, audit.details) == (
        "application.status_changed", "application", str(application.id), tk_registrar.id,
        {"from": current.value, "to": target.value})
    expected_open = target not in CLOSED
    assert application.is_open is expected_open
    assert members_open_in_db(application) == {expected_open}
    assert status_machine.is_open(target) is expected_open


@pytest.mark.parametrize("pair", ILLEGAL, ids=_ids)
def test_illegal_transition_is_refused(tk_registrar, pair):
    current, target = pair
    application = application_in(current, tk_registrar)
    was_open = application.is_open
    before = counts()

    with pytest.raises(IllegalTransition) as refusal:
        status_machine.transition(application, target, tk_registrar)

    # In words, the statuses as the pages name them: "… the status “Collecting information” cannot become …"
    words = gettext(current.value), gettext(target.value)
    assert str(refusal.value) == "An application with the status “{}” cannot become “{}”.".format(*words)
    assert (refusal.value.current, refusal.value.target) == (current, target)
    assert application.status is current
    assert application.is_open is was_open
    assert counts() == before


def test_transition_accepts_the_status_as_a_string(tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    status_machine.transition(application, "collecting", tk_registrar)
    assert application.status is S.collecting


def test_unknown_status_is_refused(tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    with pytest.raises(ValueError):
        status_machine.transition(application, "approved", tk_registrar)
    assert application.status is S.submitted


def test_timeline_records_every_step_in_order(tk_registrar):
    # Committed tests (browser, rq) leave audit rows behind, and SQLite reuses a deleted application's id.
    before = db.session.scalar(select(func.max(AuditEvent.id))) or 0
    application = application_in(S.decided, tk_registrar)
    db.session.expire_all()
    events = db.session.scalars(select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
                                .order_by(ApplicationEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "draft"), ("draft", "submitted"), ("submitted", "collecting"), ("collecting", "collected"),
        ("collected", "assessed"), ("assessed", "decided")]
    assert {e.actor_id for e in events} == {tk_registrar.id}
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "application",
                                                                 AuditEvent.object_id == str(application.id),
                                                                 AuditEvent.id > before)
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["application.created"] + ["application.status_changed"] * 5


def test_submit_sets_submission_time_and_due_date(tk_registrar, set_today):
    set_today(date(2025, 2, 7))
    application = application_in(S.draft, tk_registrar)
    operations.submit(application, tk_registrar)
    assert application.status is S.submitted
    assert application.submitted_at is not None
    assert application.due_at == date(2025, 2, 12)


def test_submit_twice_is_refused(tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    due = application.due_at
    before = counts()
    with pytest.raises(IllegalTransition):
        operations.submit(application, tk_registrar)
    assert counts() == before
    assert application.due_at == due


def test_withdraw_closes_the_application_and_its_members(tk_registrar):
    application = application_in(S.collecting, tk_registrar, children=2)
    assert members_open_in_db(application) == {True}
    operations.withdraw(application, tk_registrar, "  the family moved abroad  ")
    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert application.status is S.withdrawn
    assert application.is_open is False
    assert members_open_in_db(application) == {False}
    assert application.events[-1].note == "the family moved abroad"


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_withdraw_needs_a_reason(tk_registrar, reason):
    application = application_in(S.submitted, tk_registrar)
    before = counts()
    with pytest.raises(operations.RegistrationError) as refusal:
        operations.withdraw(application, tk_registrar, reason)
    assert refusal.value.errors == {"reason": ["Say why the application is withdrawn."]}
    assert application.status is S.submitted
    assert counts() == before


def test_is_overdue_follows_status_and_date(tk_registrar, set_today):
    set_today(date(2025, 1, 6))
    application = application_in(S.submitted, tk_registrar)
    assert application.due_at == date(2025, 1, 9)
    assert application.is_overdue(date(2025, 1, 9)) is False
    assert application.is_overdue(date(2025, 1, 10)) is True
    operations.withdraw(application, tk_registrar, "no longer needed")
    assert application.is_overdue(date(2025, 1, 10)) is False


# --- through the staff pages ---------------------------------------------------------------------------------


@pytest.fixture
def staff(client, tk_registrar):
    return sign_in(client, tk_registrar)


def detail_page(client, application) -> str:
    response = client.get(f"/applications/{application.id}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_withdraw_through_the_page(staff, tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    commit()
    before = counts()

    response = staff.post(f"/applications/{application.id}/withdraw",
                          data={"csrf_token": staff.csrf, "reason": "Family found work"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.id}")
    assert delta(before) == {"application_event": 1, "audit_event": 1}
    db.session.expire_all()
    assert db.session.get(Application, application.id).status is S.withdrawn
    text = detail_page(staff, application)
    assert "Application withdrawn." in text
    assert "Family found work" in text
    assert f'action="/applications/{application.id}/withdraw"' not in text  # no more actions


def test_withdraw_without_a_reason_is_refused_on_the_page(staff, tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    commit()
    before = counts()

    response = staff.post(f"/applications/{application.id}/withdraw", data={"csrf_token": staff.csrf, "reason": " "})

    assert response.status_code == 302
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Application, application.id).status is S.submitted
    assert "Say why the application is withdrawn." in detail_page(staff, application)


def test_withdrawing_a_decided_application_is_refused_on_the_page(staff, tk_registrar):
    application = application_in(S.decided, tk_registrar)
    commit()
    before = counts()
    response = staff.post(f"/applications/{application.id}/withdraw",
                          data={"csrf_token": staff.csrf, "reason": "too late"})
    assert response.status_code == 302
    assert counts() == before
    assert "An application with the status “Decided” cannot become “Withdrawn”." in detail_page(staff, application)


def test_submit_a_draft_through_the_page(staff, tk_registrar, set_today):
    set_today(date(2025, 1, 10))
    application = application_in(S.draft, tk_registrar)
    commit()
    assert f'action="/applications/{application.id}/submit"' in detail_page(staff, application)
    before = counts()

    response = staff.post(f"/applications/{application.id}/submit", data={"csrf_token": staff.csrf})

    assert response.status_code == 302
    assert delta(before)["application_event"] == 1
    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert application.status is S.submitted
    assert application.due_at == date(2025, 1, 15)
    text = detail_page(staff, application)
    assert "Application submitted." in text
    assert "15.01.2025" in text


def test_submitting_twice_through_the_page_is_refused(staff, tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    commit()
    before = counts()
    response = staff.post(f"/applications/{application.id}/submit", data={"csrf_token": staff.csrf})
    assert response.status_code == 302
    assert counts() == before
    assert "An application with the status “Submitted” cannot become “Submitted”." in detail_page(staff, application)


def test_status_change_needs_the_csrf_token(staff, tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    commit()
    before = counts()
    response = staff.post(f"/applications/{application.id}/withdraw", data={"reason": "no token"})
    assert response.status_code == 400
    assert counts() == before


def test_social_worker_cannot_change_status(client, tk_registrar):
    application = application_in(S.submitted, tk_registrar)
    sign_in(client, factories.make_user("social_worker", areas=["UZ-TK"]))
    before = counts()
    for action in ("withdraw", "submit"):
        response = client.post(f"/applications/{application.id}/{action}",
                               data={"csrf_token": client.csrf, "reason": "x"})
        assert response.status_code == 403
    assert counts() == before
    text = detail_page(client, application)
    assert "Reason for withdrawal" not in text


def test_detail_page_shows_the_timeline(staff, tk_registrar):
    application = application_in(S.collecting, tk_registrar)
    commit()
    text = detail_page(staff, application).lower()
    steps = ("draft", "submitted", "collecting information")
    positions = [text.index(f"<strong>{step}</strong>") for step in steps]
    assert positions == sorted(positions)
