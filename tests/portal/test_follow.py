"""Following an application: the timeline in plain words, the decision with its reasons and amounts, payments
from the payroll lines, and the appeal or complaint opened in one step with its tracking number and progress."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.grievances.models import Case, CaseChannel, CaseKind
from modules.payments.models import LineStatus
from modules.registration.models import ApplicationStatus, Person
from tests import factories
from tests.portal.portal_pages_helpers import csrf, signed_in
from webapp.extensions import db
from webapp.models import AuditEvent

DECIDED = datetime(2025, 11, 20, 8, tzinfo=UTC)


def _head(application) -> Person:
    return application.applicant


def test_an_eligible_decision_reads_as_steps_with_amounts_and_the_next_check(client):
    assessment = factories.household_decided(300_000, DECIDED)
    application = assessment.application
    signed_in(client, _head(application))
    response = client.get(f"/portal/applications/{application.id}")
    assert response.status_code == 200
    html = factories.page_text(response)
    assert "Application received" in html and "Decided: eligible" in html
    assert "Enrolled in" in html and "Your family is eligible." in html
    assert "Next check of your eligibility" in html
    for item in assessment.programmes:
        assert str(item["months"]) in html
    assert "Appeal this decision" in html
    viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "portal.viewed",
                                                        AuditEvent.object_id == str(application.id)))
    assert viewed.details == {"person_id": application.applicant_id, "page": "application"}


def test_a_refusal_names_the_criterion_that_failed_with_the_values_seen(client):
    assessment = factories.household_decided(9_000_000, DECIDED)
    application = assessment.application
    signed_in(client, _head(application))
    html = factories.page_text(client.get(f"/portal/applications/{application.id}"))
    assert "Decided: not eligible" in html and "not eligible, for these reasons" in html
    failed = [rule for rule in assessment.trace["rules"] if rule["fired"]]
    assert failed
    assert "What the registers showed:" in html and "Legal basis:" in html


def test_the_registries_answers_are_said_in_words(client):
    user = factories.make_user("registrar", national=True)
    application = factories.register_family(user)
    factories.evidence_on_file(application)
    application.status = ApplicationStatus.collecting
    db.session.flush()
    signed_in(client, application.applicant)
    html = factories.page_text(client.get(f"/portal/applications/{application.id}"))
    assert "Data collected from the registries" in html
    assert "State Tax Committee — salaries and entrepreneurial income: answered" in html
    assert "Your data is being collected" in html


def _paid_household():
    payroll, lines = factories.sent_payroll(children=3)
    lines[0].status, lines[1].status, lines[2].status = LineStatus.paid, LineStatus.failed, LineStatus.returned
    db.session.flush()
    enrolment = db.session.get(Enrolment, lines[0].enrolment_id)
    application = enrolment.application
    application.status, application.is_open = ApplicationStatus.decided, False
    for member in application.members:
        member.is_open = False
    db.session.flush()
    return application, lines


def test_each_payment_is_a_step_with_its_month_amount_and_outcome(client):
    application, lines = _paid_household()
    signed_in(client, application.applicant)
    html = factories.page_text(client.get(f"/portal/applications/{application.id}"))
    assert "Payment for January 2026: paid to your account" in html
    assert "Payment for January 2026: the payment failed" in html
    assert "Payment for January 2026: returned by the bank" in html
    for line in lines:
        assert f"/portal/payments/{line.id}/complaint" in html


def test_a_complaint_about_a_payment_opens_a_case_on_its_payroll_line(client):
    application, lines = _paid_household()
    signed_in(client, application.applicant)
    path = f"/portal/payments/{lines[1].id}/complaint"
    assert "Payment for January 2026: the payment failed" in factories.page_text(client.get(path))
    response = client.post(path, data={"csrf_token": csrf(client, path), "description": "  Nothing arrived.  "})
    assert response.status_code == 302, factories.page_text(response)[:1500]
    case = db.session.scalar(select(Case).where(Case.payroll_line_id == lines[1].id))
    assert (case.kind, case.category_code, case.channel) == (CaseKind.grievance, "payment_not_received",
                                                             CaseChannel.portal)
    assert case.household_id == application.household_id and case.description == "Nothing arrived."
    assert response.headers["Location"].endswith(f"/portal/cases/{case.id}")
    html = factories.page_text(client.get(response.headers["Location"]))
    assert case.tracking_number in html and case.due_date.strftime("%d.%m.%Y") in html and "registered" in html
    assert case.tracking_number in factories.page_text(client.get("/portal/"))


def test_an_appeal_from_the_decision_opens_an_appeal_case(client):
    assessment = factories.household_decided(9_000_000, DECIDED)
    application = assessment.application
    factories.commit()
    signed_in(client, application.applicant)
    path = f"/portal/applications/{application.id}/appeal"
    response = client.post(path, data={"csrf_token": csrf(client, path), "description": ""})
    assert response.status_code == 422 and "Say in a few words what is wrong." in factories.page_text(response)
    assert db.session.scalar(select(Case).where(Case.application_id == application.id)) is None
    response = client.post(path, data={"csrf_token": csrf(client, path), "description": "Our car was sold."})
    assert response.status_code == 302
    case = db.session.scalar(select(Case).where(Case.application_id == application.id))
    assert (case.kind, case.category_code, case.channel) == (CaseKind.appeal, "decision_appeal", CaseChannel.portal)
    assert case.language == "en" and case.complainant_name == application.applicant.full_name
    html = factories.page_text(client.get(f"/portal/applications/{application.id}"))
    assert case.tracking_number in html
    opened = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "portal.case_opened")
                               .order_by(AuditEvent.id.desc()).limit(1))
    assert opened.details == {"person_id": application.applicant_id, "kind": "appeal"}


def test_an_undecided_application_has_no_appeal(client):
    application = factories.register_family(factories.make_user("registrar", national=True))
    factories.commit()
    signed_in(client, application.applicant)
    assert client.get(f"/portal/applications/{application.id}/appeal").status_code == 404
    html = factories.page_text(client.get(f"/portal/applications/{application.id}"))
    assert "Received" in html and "Appeal this decision" not in html
