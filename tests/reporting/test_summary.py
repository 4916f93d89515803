"""The reporting summary: rebuilt for a month, it adds up to the monthly return's figures, breaks them down by
district, sex, age band, household size and reason, and is rebuilt after the changes that move the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.means_test.models import Assessment, Decision
from modules.reporting import summary
from modules.reporting.compute import compute_return
from modules.reporting.models import SummaryMark, SummaryMonth, SummaryRow
from tests import factories
from webapp import signals
from webapp.extensions import db
from webapp.models import Area

PERIOD = factories.PAYROLL_PERIOD  # 2026-01


def _values(indicator: str, dimensions=(), period: str = PERIOD, **filters) -> list[tuple]:
    return [(*(row[d] for d in dimensions), row["values"][indicator])
            for row in summary.query([indicator], list(dimensions), period, period, filters)]


def _district_of(person) -> str:
    mahalla = db.session.get(Area, person.area_id)
    return db.session.get(Area, mahalla.parent_id).code


def test_the_summary_adds_up_to_the_monthly_return(paid_month):
    summary.refresh(PERIOD)
    figures = compute_return(PERIOD)["indicators"]
    for code in summary.indicators_in_summary():
        if code in ("coverage", "refusal_reasons"):
            continue
        assert _values(code) == ([(figures[code]["total"],)] if figures[code]["total"] else []), code
        by_place = [(row["programme"], row["region"], row["value"]) for row in figures[code]["rows"]]
        dimensions = [d for d in ("programme", "region") if any(row[d] for row in figures[code]["rows"])]
        if by_place:
            assert [(*row[:-1],) for row in _values(code, dimensions)] == [
                tuple(r for r, d in zip(row[:-1], ("programme", "region"), strict=True) if d in dimensions)
                for row in by_place], code
    assert _values("amount_paid", ["programme", "region"]) == [("child_allowance", "UZ-TK", 250000)]
    assert db.session.get(SummaryMonth, PERIOD).rows == db.session.scalar(
        select(func.count(SummaryRow.id)).where(SummaryRow.period == PERIOD))


def test_beneficiaries_and_amounts_by_district_sex_age_band_and_household_size(paid_month):
    _payroll, lines = paid_month
    summary.refresh(PERIOD)
    # Children born 2012, 2013, 2014 (boy, girl, boy): 6-17 on 1 January; a household of five.
    assert _values("beneficiaries", ["sex", "age_band", "household_size"]) == [("F", "6-17", 5, 1),
                                                                              ("M", "6-17", 5, 2)]
    district = _district_of(lines[0].enrolment.beneficiary)
    assert _values("beneficiaries", ["region", "district"]) == [("UZ-TK", district, 3)]
    assert _values("beneficiary_households", ["household_size"]) == [(5, 1)]
    assert _values("amount_approved", ["sex"]) == [("F", 250000), ("M", 500000)]
    assert _values("amount_approved", ["sex"], sex=["F"]) == [("F", 250000)]
    # The register copy: head (1985) and spouse (1988) are 30-59, the children 6-17.
    assert _values("population", ["age_band"]) == [("30-59", 2), ("6-17", 3)]
    assert _values("coverage", ["age_band"]) == [("30-59", 0), ("6-17", 100)]


def test_a_reader_of_one_region_sees_only_its_rows(paid_month):
    factories.sent_payroll_in("UZ-SA", children=1)
    summary.refresh(PERIOD)
    both = summary.query(["beneficiaries"], ["region"], PERIOD, PERIOD)
    assert [(row["region"], row["values"]["beneficiaries"]) for row in both] == [("UZ-SA", 1), ("UZ-TK", 3)]
    mine = summary.query(["beneficiaries", "amount_approved"], [], PERIOD, PERIOD, regions={"UZ-SA"})
    assert mine == [{"values": {"beneficiaries": 1, "amount_approved": 250000}}]


def _another_assessment(family: dict, created: datetime) -> Assessment:
    first = family["assessment"]
    assessment = Assessment(
        application_id=first.application_id, household_id=first.household_id, kind="initial", pack_id="uz",
        pack_version="test", engine="durable_rules", as_of=created.date(), decision=Decision.eligible,
        per_capita_income=Decimal("100000.00"), monthly_total=Decimal("1.00"), reasons=[], programmes=[], facts={},
        trace={}, created_at=created)
    db.session.add(assessment)
    db.session.flush()
    return assessment


def test_entrants_and_exits_are_people_with_the_reason_they_came_or_left(paid_month):
    _payroll, lines = paid_month
    died, continued, stopped = (line.enrolment for line in lines)
    summary.refresh("2025-12")
    assert _values("new_entrants", ["reason"], "2025-12") == [("claim", 3)]
    # January: one child dies, one is re-assessed and goes on from February, one is stopped at the month's end.
    died.beneficiary.death_date = date(2026, 1, 15)
    for enrolment in (died, continued):
        enrolment.period_end, enrolment.status = date(2026, 1, 31), EnrolmentStatus.ended
    stopped.period_end = date(2026, 1, 31)
    db.session.flush()
    family = {"application": continued.application, "assessment": _another_assessment(
        {"assessment": continued.assessment}, datetime(2026, 1, 20, tzinfo=UTC))}
    db.session.add(Enrolment(
        application_id=family["application"].id, assessment_id=family["assessment"].id,
        household_id=continued.household_id, programme_id=continued.programme_id,
        beneficiary_person_id=continued.beneficiary_person_id, payee_person_id=continued.payee_person_id,
        monthly_amount=continued.monthly_amount, months=12, period_start=date(2026, 2, 1),
        period_end=date(2027, 1, 31), status=EnrolmentStatus.active))
    db.session.flush()
    summary.refresh(PERIOD)
    summary.refresh("2026-02")
    assert _values("exits", ["reason"]) == [("death", 1), ("stopped", 1)]
    assert _values("new_entrants", [], "2026-02") == []  # going on is not coming in
    assert _values("beneficiaries", [], "2026-02") == [(1,)]
    summary.refresh("2027-01")
    assert _values("exits", ["reason"], "2027-01") == [("term_ended", 1)]


def test_payrolls_and_statements_mark_their_month(paid_month):
    # Approved, funded, sent; then two statements settling lines (the fixture).
    # (Tests that commit may have left marks of their own: only this month's are asked about.)
    marks = {(mark.first_period, mark.last_period) for mark in db.session.scalars(select(SummaryMark))}
    assert (PERIOD, PERIOD) in marks
    assert PERIOD in summary.refresh_marked()
    assert db.session.scalar(select(func.count(SummaryMark.id))) == 0
    assert _values("amount_paid") == [(250000,)]


def test_a_decision_marks_the_months_it_changes_and_the_refresh_rebuilds_them(paid_month):
    summary.refresh_marked()
    assessment = paid_month[1][0].enrolment.assessment
    signals.application_decided.send(assessment.application, assessment=assessment, actor=None)
    marks = db.session.scalars(select(SummaryMark)).all()
    assert [(mark.first_period, mark.last_period) for mark in marks] == [("2025-11", summary.current_month())]
    before = db.session.get(SummaryMonth, PERIOD).refreshed_at
    rebuilt = summary.refresh_marked()
    assert rebuilt[0] == "2025-11" and PERIOD in rebuilt and rebuilt[-1] == summary.current_month()
    assert db.session.get(SummaryMonth, PERIOD).refreshed_at >= before
    assert db.session.scalar(select(func.count(SummaryMark.id))) == 0
    assert summary.refresh_marked() == []


def test_a_rebuilt_month_replaces_its_rows(paid_month):
    first = summary.refresh(PERIOD)
    assert summary.refresh(PERIOD) == first
    assert _values("beneficiaries") == [(3,)]
