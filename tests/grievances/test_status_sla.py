"""The case status machine and the SLA arithmetic: working days across weekends and public holidays."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from modules.grievances import sla
from modules.grievances import status as machine
from modules.grievances.categories import categories, category
from modules.grievances.models import CaseDecision, CaseKind, CaseStatus
from webapp.models import Role

S = CaseStatus


def _case(due: date, status: CaseStatus = S.in_progress):
    return SimpleNamespace(due_date=due, status=status, category_code="payment_not_received",
                           is_open=machine.is_open(status))


@pytest.mark.parametrize(("current", "target"), [
    (S.new, S.assigned), (S.assigned, S.in_progress), (S.in_progress, S.waiting_citizen),
    (S.in_progress, S.waiting_other), (S.waiting_citizen, S.in_progress), (S.waiting_other, S.in_progress),
    (S.resolved, S.closed), (S.resolved, S.in_progress), (S.closed, S.in_progress),
])
def test_the_working_path_and_reopening_are_allowed(current, target):
    machine.check(current, target)


@pytest.mark.parametrize(("current", "target"), [
    (S.new, S.closed), (S.closed, S.resolved), (S.waiting_citizen, S.waiting_other), (S.resolved, S.new),
    (S.in_progress, S.new), (S.closed, S.closed),
])
def test_illegal_moves_are_refused_in_words(app, current, target):
    with pytest.raises(machine.IllegalCaseTransition) as refused:
        machine.check(current, target)
    assert "“" in str(refused.value)


def test_resolving_needs_a_decision_and_a_resolution(app):
    with pytest.raises(machine.DecisionRequired) as refused:
        machine.check(S.in_progress, S.resolved)
    assert set(refused.value.errors) == {"decision", "resolution"}
    with pytest.raises(machine.DecisionRequired) as refused:
        machine.check(S.in_progress, S.resolved, CaseDecision.upheld, "   ")
    assert set(refused.value.errors) == {"resolution"}
    machine.check(S.in_progress, S.resolved, CaseDecision.upheld, "Paid on 3 December.")


def test_only_open_cases_escalate():
    assert machine.can_escalate(S.waiting_other)
    assert not machine.can_escalate(S.resolved)
    assert not machine.can_escalate(S.closed)


def test_due_date_skips_the_weekend_and_a_holiday():
    # Friday 4 December 2026 + 5 working days: Mon 7, (Tue 8 holiday), Wed 9, Thu 10, Fri 11, Mon 14.
    assert sla.due_date(date(2026, 12, 4), 5, frozenset({date(2026, 12, 8)})) == date(2026, 12, 14)
    assert sla.due_date(date(2026, 12, 4), 5, frozenset()) == date(2026, 12, 11)
    # Opened on a Saturday: the count starts on Monday.
    assert sla.due_date(date(2026, 12, 5), 1, frozenset()) == date(2026, 12, 7)


def test_due_date_reads_the_configured_holidays(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_HOLIDAYS", [date(2026, 12, 8)])
    assert sla.due_date(date(2026, 12, 4), 5) == date(2026, 12, 14)


def test_sla_status_on_track_at_risk_and_breached():
    holidays = frozenset({date(2026, 12, 8)})
    due = date(2026, 12, 14)  # a 10-day SLA
    assert sla.sla_status(_case(due), date(2026, 12, 4), 10, holidays) == sla.ON_TRACK
    # Friday 11th: one working day left (Monday) — at risk, though three calendar days remain.
    assert sla.sla_status(_case(due), date(2026, 12, 11), 10, holidays) == sla.AT_RISK
    # Monday 7th: the holiday on the 8th leaves 4 working days (9, 10, 11, 14); 4 ≥ 25 % of 10: on track.
    assert sla.sla_status(_case(due), date(2026, 12, 7), 10, holidays) == sla.ON_TRACK
    # Two working days left of a 10-day SLA: under a quarter, at risk.
    assert sla.sla_status(_case(due), date(2026, 12, 10), 10, holidays) == sla.AT_RISK
    assert sla.sla_status(_case(due), due, 10, holidays) == sla.AT_RISK
    assert sla.sla_status(_case(due), date(2026, 12, 15), 10, holidays) == sla.BREACHED
    # A resolved case's clock has stopped.
    assert sla.sla_status(_case(due, S.resolved), date(2026, 12, 15), 10, holidays) == sla.ON_TRACK


def test_working_days_between_counts_neither_weekend_nor_holiday():
    assert sla.working_days_between(date(2026, 12, 4), date(2026, 12, 14), frozenset({date(2026, 12, 8)})) == 5
    assert sla.working_days_between(date(2026, 12, 14), date(2026, 12, 14), frozenset()) == 0


def test_categories_are_data_with_names_sla_and_roles(app):
    codes = {item.code for item in categories()}
    assert {"payment_not_received", "payment_amount_wrong", "decision_disputed", "decision_appeal", "staff_conduct",
            "data_error", "status_enquiry", "birth", "death", "member_moved_in", "member_moved_out", "new_job",
            "death_reported", "birth_reported", "payment_failed", "recertification_due",
            "manual_verification_stuck"} <= codes
    assert {item.code for item in categories(CaseKind.alert)} >= {"death_reported", "payment_failed"}
    conduct = category("staff_conduct")
    assert conduct.sensitive and not conduct.visible_for(Role.mahalla_worker) and conduct.visible_for(Role.admin)
    assert category("payment_not_received").name_in("ru") == "Выплата не получена"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert category("payment_not_received").name == "Payment not received"
    assert category("nothing") is None
