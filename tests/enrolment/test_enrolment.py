"""Enrolment from a decision: beneficiaries, amounts, periods, the database's invariants, status changes, bank
accounts, recertification dates and the staff page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from modules.enrolment import operations
from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from modules.enrolment.status import IllegalAccountTransition, IllegalTransition
from modules.means_test.models import Assessment, Decision
from tests import factories
from tests.conftest import sign_in
from tests.factories import decide as _decide
from tests.factories import decided_assessment as _decided
from webapp.extensions import db
from webapp.models.audit import AuditEvent


def _by_programme(enrolments) -> dict[str, list[Enrolment]]:
    grouped: dict[str, list[Enrolment]] = {}
    for enrolment in enrolments:
        grouped.setdefault(enrolment.programme.code, []).append(enrolment)
    return grouped


def _actions(object_type: str, object_id) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == object_type,
                                                                   AuditEvent.object_id == str(object_id))
                                   .order_by(AuditEvent.id)))


def test_an_eligible_decision_enrols_each_child_from_the_month_after_the_decision(app):
    family = factories.make_family(children=3)
    assessment = _decided(family)
    assert assessment.decision is Decision.eligible
    [allowance] = assessment.programmes
    assert allowance["code"] == "child_allowance" and allowance["monthly_amount"] == 3 * 270_000

    enrolments = _decide(assessment)
    assert sorted(e.beneficiary_person_id for e in enrolments) == sorted(k.id for k in family["children"])
    for enrolment in enrolments:
        assert enrolment.programme.code == "child_allowance"
        assert enrolment.monthly_amount == Decimal("270000.00")
        assert (enrolment.period_start, enrolment.period_end) == (date(2025, 12, 1), date(2026, 11, 30))
        assert enrolment.months == 12 and enrolment.lump_sum is False
        assert enrolment.status is EnrolmentStatus.active
        assert enrolment.payee_person_id == family["head"].id  # the applicant receives the money
        assert enrolment.household_id == assessment.household_id and enrolment.bank_account_id is None
        assert _actions("enrolment", enrolment.id) == ["enrolment.created"]


def test_a_decision_late_in_the_month_local_time_starts_two_months_on(app):
    # 20:00 UTC on 30 November is 1 December in Tashkent: the period starts in January.
    enrolments = _decide(_decided(decided=datetime(2025, 11, 30, 20, tzinfo=UTC)))
    assert {(e.period_start, e.period_end) for e in enrolments} == {(date(2026, 1, 1), date(2026, 12, 31))}


def test_disabled_child_and_maternity_each_go_to_their_beneficiary(app):
    head = factories.make_person(birth_date=date(1985, 4, 2), sex="M")
    mother = factories.make_person(birth_date=date(1990, 3, 1), sex="F")
    older = factories.make_person(birth_date=date(2015, 5, 5), sex="M")
    infant = factories.make_person(birth_date=date(2025, 10, 1), sex="F")
    family = _household(head, mother, [older, infant])
    extra = {older.pin: {"disability_group": "child"}, mother.pin: {"employment_sector": "non_state"}}
    assessment = _decided(family, monthly_income=200_000, extra=extra,
                          programmes=("child_allowance", "disabled_child_care", "maternity"))
    codes = {item["code"] for item in assessment.programmes}
    assert codes == {"child_allowance", "disabled_child_care", "maternity"}, assessment.reasons

    grouped = _by_programme(_decide(assessment))
    assert sorted(e.beneficiary_person_id for e in grouped["child_allowance"]) == sorted([older.id, infant.id])
    [care] = grouped["disabled_child_care"]
    assert (care.beneficiary_person_id, care.monthly_amount, care.lump_sum) == (older.id, Decimal("500000.00"), False)
    [maternity] = grouped["maternity"]
    assert maternity.beneficiary_person_id == mother.id and maternity.payee_person_id == head.id
    assert (maternity.monthly_amount, maternity.months, maternity.lump_sum) == (Decimal("498500.00"), 4, True)
    assert (maternity.period_start, maternity.period_end) == (date(2025, 12, 1), date(2026, 3, 31))


def test_material_support_goes_to_the_applicant(app):
    family = factories.make_family(children=0)
    assessment = _decided(family, monthly_income=200_000, programmes=("material_support",))
    [enrolment] = _decide(assessment)
    assert enrolment.programme.code == "material_support"
    assert enrolment.beneficiary_person_id == enrolment.payee_person_id == family["head"].id
    assert enrolment.monthly_amount == Decimal(str(assessment.programmes[0]["monthly_amount"]))
    assert enrolment.period_end == date(2026, 5, 31)  # 6 months from December


def test_the_signal_sent_twice_enrols_once(app):
    assessment = _decided()
    first = _decide(assessment)
    second = _decide(assessment)
    assert len(first) == 2 and [e.id for e in second] == [e.id for e in first]
    assert operations.enrol_from_assessment(assessment) == first
    count = db.session.scalar(select(func.count()).select_from(Enrolment)
                              .where(Enrolment.assessment_id == assessment.id))
    assert count == 2


def test_an_ineligible_decision_enrols_nobody(app):
    assessment = _decided(monthly_income=1_400_000)
    assert assessment.decision is Decision.ineligible
    assert _decide(assessment) == []
    assert operations.enrol_from_assessment(assessment) == []


def test_amounts_that_disagree_with_the_pack_enrol_nobody_and_the_decision_stands(app):
    def one_child_too_few(result):  # 270,000 for two children is not the pack's 270,000 each
        result["programmes"][0]["monthly_amount"] = 270_000.0

    assessment = _decided(edit=one_child_too_few)
    with pytest.raises(operations.EnrolmentError, match="270000"):
        operations.enrol_from_assessment(assessment)
    assert _decide(assessment) == []
    assert _actions("application", assessment.application_id)[-1] == "enrolment.refused"


def test_a_newer_decision_supersedes_the_older_enrolment(app):
    family = factories.make_family(children=1)
    first = _decide(_decided(family))
    first[0].application.status = "withdrawn"  # let the household apply again (open-application index)
    first[0].application.is_open = False
    for member in first[0].application.members:
        member.is_open = False
    db.session.flush()
    second = _decide(_decided(family, decided=datetime(2026, 5, 20, 8, tzinfo=UTC)))
    assert first[0].status is EnrolmentStatus.ended and "superseded" in first[0].status_reason
    assert first[0].period_end == date(2026, 5, 31) and second[0].period_start == date(2026, 6, 1)


def test_the_database_refuses_a_second_open_enrolment_for_a_beneficiary(app):
    [enrolment, _other] = _decide(_decided())
    columns = ("application_id, assessment_id, household_id, programme_id, beneficiary_person_id, payee_person_id, "
               "monthly_amount, months, lump_sum, period_start, period_end, status, created_at, updated_at")
    insert = text(f"INSERT INTO enrolment ({columns}) VALUES (:application, :assessment, :household, :programme, "
                  ":person, :person, :amount, 1, :false, :start, :end, :status, :now, :now)")
    values = {"application": enrolment.application_id, "assessment": _another_assessment(enrolment),
              "household": enrolment.household_id, "programme": enrolment.programme_id,
              "person": enrolment.beneficiary_person_id, "amount": 100, "false": False, "start": date(2027, 1, 1),
              "end": date(2027, 1, 31), "status": "active", "now": datetime.now(UTC)}
    for status in ("active", "suspended"):
        with pytest.raises(IntegrityError, match="(?i)unique"), db.session.begin_nested():
            db.session.execute(insert, {**values, "status": status})
    # Ended enrolments do not count: history can hold many.
    with db.session.begin_nested():
        db.session.execute(insert, {**values, "status": "ended"})
    # The same assessment cannot enrol the same beneficiary in the same programme twice, even as ended.
    with pytest.raises(IntegrityError, match="(?i)unique"), db.session.begin_nested():
        db.session.execute(insert, {**values, "status": "ended", "assessment": enrolment.assessment_id})
    # The amount must be positive and the period ordered.
    for bad in ({"amount": 0}, {"end": date(2026, 12, 31)}):
        with pytest.raises(IntegrityError, match="(?i)check"), db.session.begin_nested():
            db.session.execute(insert, {**values, "status": "ended", **bad})


def test_suspend_resume_end_follow_the_status_machine_and_are_audited(app):
    worker = factories.make_user("social_worker", areas=["UZ-TK"])
    enrolment, other = _decide(_decided())
    with pytest.raises(operations.EnrolmentError, match="reason is required"):
        operations.suspend(enrolment, "  ", worker)
    assert enrolment.status is EnrolmentStatus.active, "a refused change changes nothing"
    with pytest.raises(IllegalTransition, match="status Active; it cannot move to Active"):
        operations.resume(enrolment, worker)

    operations.suspend(enrolment, "Child left the household", worker)
    assert (enrolment.status, enrolment.status_reason) == (EnrolmentStatus.suspended, "Child left the household")
    with pytest.raises(IllegalTransition, match="status Suspended; it cannot move to Suspended"):
        operations.suspend(enrolment, "again", worker)
    operations.resume(enrolment, worker)
    assert enrolment.status is EnrolmentStatus.active and enrolment.status_reason is None
    operations.end(enrolment, "Moved abroad", worker)
    assert enrolment.status is EnrolmentStatus.ended
    for change in (lambda: operations.resume(enrolment, worker), lambda: operations.suspend(enrolment, "x", worker),
                   lambda: operations.end(enrolment, "x", worker)):
        with pytest.raises(IllegalTransition, match="status Ended; it cannot move to"):
            change()
    operations.suspend(other, "Documents missing", worker)
    operations.end(other, "Documents never came", worker)  # a suspended enrolment can be ended too

    assert _actions("enrolment", enrolment.id) == ["enrolment.created", "enrolment.suspended", "enrolment.resumed",
                                                   "enrolment.ended"]
    last = db.session.scalar(select(AuditEvent).where(AuditEvent.object_id == str(enrolment.id),
                                                      AuditEvent.object_type == "enrolment")
                             .order_by(AuditEvent.id.desc()).limit(1))
    assert last.actor_id == worker.id and last.details == {"from": "active", "to": "ended", "reason": "Moved abroad"}


def test_a_bank_account_is_requested_once_per_payee_and_moves_to_card_issued(app):
    enrolments = _decide(_decided(factories.make_family(children=3)))
    with pytest.raises(operations.EnrolmentError, match="MFO"):
        operations.request_bank_accounts(enrolments, "12")
    assert all(e.bank_account_id is None for e in enrolments)

    [account] = operations.request_bank_accounts(enrolments, "00014")
    assert {e.bank_account_id for e in enrolments} == {account.id}
    assert (account.person_id, account.status, account.account_number) == (
        enrolments[0].payee_person_id, BankAccountStatus.requested, None)
    assert account.request_id and account.requested_at
    assert operations.request_bank_accounts(enrolments, "00014") == [], "a second run requests nothing"
    # A later enrolment of the same payee (another programme) reuses the account.
    later = _decide(_decided(factories.make_family(children=1)))
    later[0].payee_person_id = enrolments[0].payee_person_id
    assert operations.request_bank_accounts(later, "00014") == [] and later[0].bank_account_id == account.id
    assert db.session.scalar(select(func.count()).select_from(BankAccount)
                             .where(BankAccount.person_id == account.person_id)) == 1

    with pytest.raises(IllegalAccountTransition, match="status Requested; it cannot move to Card issued"):
        operations.record_card_issued(account)
    with pytest.raises(operations.EnrolmentError, match="20 digits"):
        operations.record_account_opened(account, "1234")
    assert account.status is BankAccountStatus.requested
    operations.record_account_opened(account, "20206000900123456001")
    assert (account.status, account.account_number) == (BankAccountStatus.opened, "20206000900123456001")
    assert account.opened_at is not None
    operations.record_card_issued(account)
    assert account.status is BankAccountStatus.card_issued and account.card_issued_at is not None
    with pytest.raises(IllegalAccountTransition):
        operations.record_account_opened(account, "20206000900123456002")
    assert _actions("bank_account", account.id) == ["bank_account.requested", "bank_account.opened",
                                                    "bank_account.card_issued"]


def test_households_are_due_for_recertification_when_their_active_period_ends(app):
    december = _decided()  # child allowance December 2025 – November 2026
    _decide(december)
    suspended = _decided(decided=datetime(2025, 10, 10, 8, tzinfo=UTC))  # November 2025 – October 2026
    for enrolment in _decide(suspended):
        operations.suspend(enrolment, "Under review")
    later = _decided(decided=datetime(2026, 3, 3, 8, tzinfo=UTC))  # April 2026 – March 2027
    _decide(later)
    mine = {december.household_id, suspended.household_id, later.household_id}

    def due(as_of):
        return [household for household in operations.due_for_recertification(as_of) if household in mine]

    assert due(date(2026, 10, 31)) == []
    assert due(date(2026, 11, 1)) == due(date(2026, 11, 30)) == [december.household_id]
    assert due(date(2027, 3, 1)) == sorted([december.household_id, later.household_id])
    for enrolment in operations.enrolments_of(december.id):
        operations.end(enrolment, "Recertified")
    assert due(date(2027, 3, 1)) == [later.household_id]


def test_the_application_page_lists_enrolments_and_a_social_worker_can_change_them(app, client):
    assessment = _decided()
    enrolment, other = _decide(assessment)
    operations.request_bank_accounts([enrolment], "00014")
    worker = factories.make_user("social_worker", areas=["UZ-TK"])
    sign_in(client, worker)
    page = f"/applications/{assessment.application_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Enrolments" in html and enrolment.beneficiary.pin in html and other.beneficiary.pin in html
    assert "270 000.00" in html and "01.12.2025 – 30.11.2026" in html and "requested" in html
    assert "not requested" in html  # the other child's enrolment has no account yet
    assert f"/enrolments/{enrolment.id}/suspend" in html and f"/enrolments/{enrolment.id}/end" in html

    refused = client.post(f"/enrolments/{enrolment.id}/suspend", data={"csrf_token": client.csrf, "reason": " "},
                          follow_redirects=True)
    assert "A reason is required." in refused.get_data(as_text=True)
    assert enrolment.status is EnrolmentStatus.active
    response = client.post(f"/enrolments/{enrolment.id}/suspend",
                           data={"csrf_token": client.csrf, "reason": "Child moved to grandparents"})
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    db.session.refresh(enrolment)
    assert (enrolment.status, enrolment.status_reason) == (EnrolmentStatus.suspended, "Child moved to grandparents")
    html = client.get(page).get_data(as_text=True)
    assert "Child moved to grandparents" in html and f"/enrolments/{enrolment.id}/resume" in html
    assert f"/enrolments/{enrolment.id}/suspend" not in html

    again = client.post(f"/enrolments/{enrolment.id}/suspend", data={"csrf_token": client.csrf, "reason": "x"},
                        follow_redirects=True)
    assert "it cannot move to" in again.get_data(as_text=True)
    client.post(f"/enrolments/{enrolment.id}/resume", data={"csrf_token": client.csrf})
    db.session.refresh(enrolment)
    assert enrolment.status is EnrolmentStatus.active
    client.post(f"/enrolments/{other.id}/end", data={"csrf_token": client.csrf, "reason": "Turned 18"})
    db.session.refresh(other)
    assert other.status is EnrolmentStatus.ended
    assert _actions("enrolment", enrolment.id)[-2:] == ["enrolment.suspended", "enrolment.resumed"]
    assert client.post(f"/enrolments/{enrolment.id}/suspend", data={"reason": "no token"}).status_code == 400


def test_a_registrar_sees_the_enrolments_but_cannot_change_them(app, client):
    assessment = _decided()
    enrolment, _other = _decide(assessment)
    sign_in(client, factories.make_user("registrar", areas=["UZ-TK"]))
    html = client.get(f"/applications/{assessment.application_id}").get_data(as_text=True)
    assert enrolment.beneficiary.pin in html and "/suspend" not in html
    response = client.post(f"/enrolments/{enrolment.id}/suspend", data={"csrf_token": client.csrf, "reason": "x"})
    assert response.status_code == 403
    db.session.refresh(enrolment)
    assert enrolment.status is EnrolmentStatus.active


def test_staff_outside_the_area_cannot_change_an_enrolment(app, client):
    enrolment, _other = _decide(_decided())
    sign_in(client, factories.make_user("social_worker", areas=["UZ-SA"]))
    response = client.post(f"/enrolments/{enrolment.id}/end", data={"csrf_token": client.csrf, "reason": "x"})
    assert response.status_code == 404
    db.session.refresh(enrolment)
    assert enrolment.status is EnrolmentStatus.active


def _another_assessment(enrolment: Enrolment) -> int:
    """A second assessment row of the same application (so the per-assessment unique key does not fire)."""
    old = enrolment.assessment
    copy = Assessment(application_id=old.application_id, household_id=old.household_id, kind="recertification",
                      pack_id=old.pack_id, pack_version=old.pack_version, engine="pandas", as_of=old.as_of,
                      decision=old.decision, per_capita_income=old.per_capita_income, monthly_total=old.monthly_total,
                      reasons=old.reasons, programmes=old.programmes, facts=old.facts, trace=old.trace)
    db.session.add(copy)
    db.session.flush()
    return copy.id


def _household(head, spouse, children) -> dict:
    from modules.registration.models import Household, HouseholdMember, Relation

    home = Household(area_id=head.area_id, address="Test street 2")
    db.session.add(home)
    db.session.flush()
    for person, relation in [(head, Relation.head), (spouse, Relation.spouse)] + [(k, Relation.child)
                                                                                   for k in children]:
        db.session.add(HouseholdMember(household_id=home.id, person_id=person.id, relation=relation))
    db.session.flush()
    return {"head": head, "spouse": spouse, "children": children, "household": home}
