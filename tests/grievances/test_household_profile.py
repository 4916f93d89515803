"""The household profile: found by PIN, name or address in the worker's areas only; one page with members,
decisions and their reasons, enrolments, payments by month and bank accounts; every look audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from modules.grievances.models import Case, CaseChannel, CaseKind, CaseStatus
from modules.payments.models import LineStatus, PayrollLine
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent


def _worker(client, region: str = "UZ-TK"):
    user = factories.make_user("social_worker", areas=[region])
    sign_in(client, user)
    return user


def _found(client, **query) -> set[int]:
    response = client.get("/households", query_string=query)
    assert response.status_code == 200
    text = factories.page_text(response)
    return {int(part.split('"')[0]) for part in text.split('data-household="')[1:]}


def test_search_by_pin_and_name_finds_households_in_the_workers_area_only(client):
    here = factories.make_family("UZ-TK", children=1)
    there = factories.make_family("UZ-SA", children=1)
    _worker(client)
    assert _found(client, q=here["spouse"].pin) == {here["household"].id}
    assert _found(client, q=there["spouse"].pin) == set()
    name = f"karimova {here['spouse'].first_name.lower()}"
    assert _found(client, q=name) == {here["household"].id}
    assert _found(client, q=f"Karimova {there['spouse'].first_name}") == set()


def test_search_by_address_and_by_beneficiaries_programme_and_status(client):
    family = factories.assessed_family(children=1)
    factories.enrol(family, family["children"][0])
    other = factories.make_family("UZ-TK", children=1)
    db.session.execute(update(type(other["household"])).where(type(other["household"]).id == other["household"].id)
                       .values(address="Navoiy ko'chasi 7"))
    _worker(client)
    assert _found(client, q="navoiy") == {other["household"].id}
    mahalla = factories.mahalla_in("UZ-TK")
    assert other["household"].area_id == mahalla.id
    assert other["household"].id in _found(client, q=mahalla.name_uz.upper(), per_page=200)
    far = factories.make_family("UZ-SA", children=0)
    assert far["household"].id not in _found(client, q=factories.mahalla_in("UZ-SA").name_uz, per_page=200)
    enrolled = _found(client, programme="child_allowance", status="active", per_page=200)
    assert family["household"].id in enrolled and other["household"].id not in enrolled
    assert family["household"].id not in _found(client, programme="child_allowance", status="ended", per_page=200)


def test_superscript_digits_in_a_pin_search_find_nothing_and_do_not_fail(client):
    family = factories.make_family("UZ-TK", children=1)
    _worker(client)
    superscripts = family["head"].pin.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    assert _found(client, q=superscripts) == set()
    assert _found(client, q="٣٤٥") == set()  # Arabic-Indic digits


def test_household_outside_the_workers_areas_is_404_and_not_audited(client):
    family = factories.make_family("UZ-SA", children=1)
    _worker(client)
    before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    assert client.get(f"/households/{family['household'].id}").status_code == 404
    assert client.get("/households/999999999").status_code == 404
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == before


def test_profile_shows_members_with_registry_facts_and_the_decision_with_its_reasons(client):
    family = factories.make_family("UZ-TK", children=2)
    extra = {family["spouse"].pin: {"disability_group": "2"}}
    assessment = factories.decided_assessment(family, monthly_income=9_000_000, extra=extra)
    assert assessment.decision.value == "ineligible"
    user = _worker(client)
    response = client.get(f"/households/{family['household'].id}")
    assert response.status_code == 200
    text = factories.page_text(response)
    for person in [family["head"], family["spouse"], *family["children"]]:
        assert person.full_name in text and person.pin in text
    assert "2025-10:" in text  # income per month as the means test saw it
    assert assessment.application.reference in text
    assert "ineligible" in text
    fired = [item["rule"] for item in assessment.trace["rules"] if item["fired"]]
    assert fired and all(f'data-rule="{rule}"' in text for rule in fired)
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "household.viewed",
                                                         AuditEvent.object_id == str(family["household"].id))).all()
    assert [event.actor_id for event in viewed] == [user.id]
    assert viewed[0].object_type == "household"


def test_profile_shows_enrolments_payments_by_month_and_the_bank_account(client):
    payroll, lines = factories.sent_payroll(children=2)
    db.session.execute(update(PayrollLine).where(PayrollLine.id == lines[0].id).values(status=LineStatus.failed))
    db.session.expire_all()
    enrolment = lines[0].enrolment
    _worker(client)
    response = client.get(f"/households/{enrolment.household_id}")
    assert response.status_code == 200
    text = factories.page_text(response)
    assert text.count('class="enrolment status-active"') == 2
    assert text.count(f'data-period="{payroll.period}"') == 2
    assert 'class="payment status-failed"' in text and 'class="payment status-included"' in text
    assert enrolment.bank_account.account_number in text
    assert 'class="account status-opened"' in text


def test_search_results_are_audited(client):
    family = factories.make_family("UZ-TK", children=1)
    _worker(client)
    assert _found(client, q=family["head"].pin) == {family["household"].id}
    listed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "households.listed")).all()
    assert listed and listed[-1].details["ids"] == [family["household"].id]


def test_staff_without_the_case_permission_are_refused(client):
    family = factories.make_family("UZ-TK", children=1)
    sign_in(client, factories.make_user("finance_maker", national=True))
    assert client.get("/households").status_code == 403
    assert client.get(f"/households/{family['household'].id}").status_code == 403


def _case(family, number: str, category: str) -> Case:
    case = Case(tracking_number=number, kind=CaseKind.grievance, category_code=category, channel=CaseChannel.office,
                status=CaseStatus.new, area_id=family["household"].area_id, household_id=family["household"].id,
                description="test", due_date=date(2026, 1, 15))
    db.session.add(case)
    db.session.flush()
    return case


def test_profile_lists_the_households_cases_and_hides_sensitive_ones_from_roles_not_allowed(client):
    family = factories.make_family("UZ-TK", children=1)
    plain = _case(family, "PRF-TEST-0001", "data_error")
    sensitive = _case(family, "PRF-TEST-0002", "staff_conduct")
    sign_in(client, factories.make_user("mahalla_worker", areas=["UZ-TK"]))
    text = factories.page_text(client.get(f"/households/{family['household'].id}"))
    assert f'href="/cases/{plain.id}"' in text and "PRF-TEST-0001" in text and "Data error" in text
    assert "PRF-TEST-0002" not in text and f'data-case="{sensitive.id}"' not in text
