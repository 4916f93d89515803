"""Each indicator of the monthly return against a small fixture whose figures are counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml

from modules.enrolment.certificates.models import Certificate
from modules.grievances import operations as grievances
from modules.means_test.models import Assessment, Decision
from modules.payments import checks, generation, status
from modules.reporting import indicators
from modules.reporting.compute import compute_indicator, compute_return
from modules.reporting.month import BadPeriod
from tests import factories
from webapp.extensions import db

PERIOD = factories.PAYROLL_PERIOD  # 2026-01


def at(day: int, month: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)  # 15:00 in Tashkent: the same calendar day


def figures(code: str) -> tuple[list[tuple], object]:
    result = compute_indicator(code, PERIOD)
    return [tuple(row.values()) for row in result["rows"]], result["total"]


# --- the indicators file ---------------------------------------------------------------------------------------


def test_every_indicator_has_names_and_definitions_in_three_languages_and_a_query():
    from modules.reporting.compute import QUERIES

    declared = indicators.indicators()
    assert [i.code for i in declared] == list(QUERIES)
    assert all(set(i.name) == set(i.definition) == {"uz", "ru", "en"} for i in declared)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda item: item.update(unit="litres"), "unit 'litres'"),
    (lambda item: item["name"].pop("ru"), "name needs a non-empty text"),
    (lambda item: item.update(dimensions=["district"]), "dimensions must be"),
    (lambda item: item.update(colour="red"), "unknown ['colour']"),
    (lambda item: item.update(code="Bad code"), "must be a lower-case identifier"),
])
def test_a_broken_indicators_file_fails_naming_the_indicator_and_the_problem(change, problem):
    document = yaml.safe_load(indicators.INDICATORS_FILE.read_text())
    change(document["indicators"][1])
    with pytest.raises(indicators.IndicatorError) as refused:
        indicators.parse(document, "indicators.yaml")
    assert problem in str(refused.value) and str(refused.value).startswith("indicators.yaml: indicator ")


def test_an_indicator_declared_twice_is_refused():
    document = yaml.safe_load(indicators.INDICATORS_FILE.read_text())
    document["indicators"].append(document["indicators"][0])
    with pytest.raises(indicators.IndicatorError, match="declared twice"):
        indicators.parse(document)


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-01", "", "2026-01-01"])
def test_a_bad_period_is_refused(period):
    with pytest.raises(BadPeriod):
        compute_return(period)


# --- applications ----------------------------------------------------------------------------------------------


def _assess(application, decided: datetime, decision: Decision, reasons=()) -> Assessment:
    assessment = Assessment(
        application_id=application.id, household_id=application.household_id, kind="initial", pack_id="uz",
        pack_version="test", engine="durable_rules", as_of=decided.date(), decision=decision,
        per_capita_income=Decimal("1.00"), reasons=[{"rule": rule, "message": "x"} for rule in reasons],
        programmes=[], facts={}, trace={}, created_at=decided)
    db.session.add(assessment)
    db.session.flush()
    return assessment


def _decided(region: str, submitted: datetime, decided: datetime, decision: Decision, reasons=()):
    registrar = factories.make_user("registrar", national=True)
    application = factories.register_family(registrar, region)
    application.submitted_at = submitted
    _assess(application, decided, decision, reasons)
    return application


@pytest.fixture
def applications(app):
    """A (Tashkent) submitted 5 Jan, eligible 8 Jan: 3 days. B (Tashkent) submitted 10 Jan, ineligible 20 Jan for
    two rules: 10 days. C (Samarkand) submitted 20 Dec, ineligible 30 Jan, then eligible 31 Jan: 41 days to the
    first decision, its last decision of the month eligible."""
    _decided("UZ-TK", at(5), at(8), Decision.eligible)
    _decided("UZ-TK", at(10), at(20), Decision.ineligible, ("per_capita_income", "assets"))
    c = _decided("UZ-SA", at(20, 12, 2025), at(30), Decision.ineligible, ("per_capita_income",))
    _assess(c, at(31), Decision.eligible)
    # An application of another month: counted nowhere in January.
    _decided("UZ-TK", at(3, 2), at(4, 2), Decision.ineligible, ("assets",))
    db.session.flush()


def test_applications_received_decided_eligible_and_ineligible(applications):
    assert figures("applications_received") == ([(None, "UZ-TK", 2)], 2)
    assert figures("applications_decided") == ([(None, "UZ-SA", 1), (None, "UZ-TK", 2)], 3)
    assert figures("applications_eligible") == ([(None, "UZ-SA", 1), (None, "UZ-TK", 1)], 2)
    assert figures("applications_ineligible") == ([(None, "UZ-TK", 1)], 1)


def test_days_to_decision_median_and_95th_percentile_by_nearest_rank(applications):
    # Tashkent 3 and 10 days; Samarkand 41; the country 3, 10, 41.
    assert figures("decision_days_median") == ([(None, "UZ-SA", 41), (None, "UZ-TK", 3)], 10)
    assert figures("decision_days_p95") == ([(None, "UZ-SA", 41), (None, "UZ-TK", 10)], 41)


def test_reasons_for_refusal_count_the_last_decisions_of_the_month_by_rule(applications):
    rows, total = figures("refusal_reasons")
    assert rows == [(None, None, "assets", 1), (None, None, "per_capita_income", 1)]
    assert total == 1  # B; C's refusal was followed by eligibility within the month


# --- beneficiaries and money -----------------------------------------------------------------------------------


def test_beneficiaries_households_entrants_and_exits(paid_month):
    row = ("child_allowance", "UZ-TK")
    assert figures("beneficiaries") == ([(*row, 3)], 3)
    assert figures("beneficiary_households") == ([(*row, 1)], 1)
    assert figures("new_entrants") == ([], 0)  # they started in December 2025
    assert compute_indicator("new_entrants", "2025-12")["total"] == 3
    assert compute_indicator("exits", "2026-11")["rows"] == [
        {"programme": "child_allowance", "region": "UZ-TK", "value": 3}]
    assert figures("exits") == ([], 0)
    assert compute_indicator("beneficiaries", "2026-12")["total"] == 0


def test_amounts_approved_paid_failed_and_returned(paid_month):
    row = ("child_allowance", "UZ-TK")
    assert figures("amount_approved") == ([(*row, 750000)], 750000)
    assert figures("amount_paid") == ([(*row, 250000)], 250000)
    assert figures("amount_returned") == ([(*row, 250000)], 250000)
    assert figures("amount_failed") == ([(*row, 250000)], 250000)


def test_coverage_is_beneficiaries_over_living_people_of_the_register_by_region(paid_month):
    # Tashkent: head, spouse and three children in the register, the three children beneficiaries.
    assert figures("coverage") == ([(None, "UZ-TK", 60)], 60)
    extra = factories.make_person("UZ-SA")
    dead = factories.make_person("UZ-TK", death_date=date(2025, 6, 1))
    assert dead and extra
    assert figures("coverage") == ([(None, "UZ-SA", 0), (None, "UZ-TK", 60)], 50)


def test_people_paid_by_two_programmes_or_enrolled_in_two_households(paid_month):
    payroll, lines = paid_month
    assert figures("paid_by_several_programmes") == ([], 0)
    assert figures("in_several_households") == ([], 0)
    family = factories.assessed_family("UZ-TK")
    first, second = (line.enrolment for line in lines[:2])
    person = type(family["head"])
    # The first child also in disabled-child care, in the same household: paid by two programmes.
    factories.enrol(family, db.session.get(person, first.beneficiary_person_id), programme="disabled_child_care",
                    household_id=first.household_id)
    maker = factories.make_user("finance_maker", national=True)
    other = generation.generate("disabled_child_care", "UZ-TK", PERIOD, maker)
    checks.run_checks(other, maker)
    checker = factories.finance_checker()
    status.approve(other, checker, factories.totp_code(checker))
    # The second child also enrolled in another household's material support: in two households.
    factories.enrol(family, db.session.get(person, second.beneficiary_person_id), programme="material_support")
    assert figures("paid_by_several_programmes") == ([(None, "UZ-TK", 1)], 1)
    assert figures("in_several_households") == ([(None, "UZ-TK", 1)], 1)


# --- cases and certificates ------------------------------------------------------------------------------------


def test_cases_received_resolved_and_overdue_by_kind(app):
    worker = factories.make_user("social_worker", areas=["UZ-TK"])

    def case(kind, category, created, due, resolved=None):
        opened = grievances.open_case({"kind": kind, "category": category, "description": "x"}, worker)
        opened.created_at, opened.due_date, opened.resolved_at = created, due, resolved
        return opened

    case("grievance", "payment_not_received", at(3), date(2026, 1, 20), resolved=at(10))  # resolved in time
    case("grievance", "payment_not_received", at(5), date(2026, 1, 25))  # open past its due date: overdue
    case("enquiry", "status_enquiry", at(28), date(2026, 2, 10))  # open, not yet due
    case("enquiry", "status_enquiry", at(20, 12, 2025), date(2026, 1, 5), resolved=at(2, 2))  # overdue at month end
    case("enquiry", "status_enquiry", at(2, 2), date(2026, 2, 3))  # February: nowhere
    db.session.flush()
    assert figures("cases_received") == ([(None, "UZ-TK", "enquiry", 1), (None, "UZ-TK", "grievance", 2)], 3)
    assert figures("cases_resolved") == ([(None, "UZ-TK", "grievance", 1)], 1)
    assert figures("cases_overdue") == ([(None, "UZ-TK", "enquiry", 1), (None, "UZ-TK", "grievance", 1)], 2)


def test_certificates_issued_and_revoked(app):
    serials = iter(range(1, 10))

    def certificate(region, issued, revoked=None):
        family = factories.make_family(region)
        number = next(serials)
        db.session.add(Certificate(
            serial=f"TEST-{number}", household_id=family["household"].id, head_person_id=family["head"].id,
            programmes=[], issued_at=issued, valid_from=issued.date(), valid_until=date(2026, 12, 31),
            status_index=900000 + number, revoked_at=revoked, kid="test", credential="x"))

    certificate("UZ-TK", at(4))
    certificate("UZ-TK", at(6), revoked=at(9))
    certificate("UZ-SA", at(20, 12, 2025), revoked=at(15))
    certificate("UZ-SA", at(1, 2))
    db.session.flush()
    assert figures("certificates_issued") == ([(None, "UZ-TK", 2)], 2)
    assert figures("certificates_revoked") == ([(None, "UZ-SA", 1), (None, "UZ-TK", 1)], 2)
