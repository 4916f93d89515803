"""The portal's pages: home signed out and in, the site's front door, size for phones on slow networks, Uzbek
by default, and privacy (only the citizen's own household; every view audited; no PIN or amount in an address)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import url_for
from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.grievances import operations as case_operations
from modules.payments.models import LineStatus
from modules.registration.models import ApplicationStatus
from tests import factories
from tests.conftest import sign_in
from tests.portal.portal_pages_helpers import csrf, gzipped_size, links, signed_in
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.timeutil import local_today

DECIDED = datetime(2025, 11, 20, 8, tzinfo=UTC)
LIMIT = 60 * 1024


def _household_with_everything():
    """A decided household with payments (paid, failed) and an appeal case: every page has something to show."""
    payroll, lines = factories.sent_payroll(children=2)
    lines[0].status, lines[1].status = LineStatus.paid, LineStatus.failed
    application = db.session.get(Enrolment, lines[0].enrolment_id).application
    application.status, application.is_open = ApplicationStatus.decided, False
    for member in application.members:
        member.is_open = False
    db.session.flush()
    case = case_operations.open_case({"kind": "grievance", "category": "payment_not_received", "channel": "portal",
                                      "payroll_line_id": lines[1].id, "description": "Nothing came."}, None)
    factories.commit()
    return application, lines, case


def _pages(application, lines, case) -> list[str]:
    return ["/portal/", "/portal/apply", f"/portal/applications/{application.id}",
            f"/portal/applications/{application.id}/appeal", f"/portal/payments/{lines[1].id}/complaint",
            f"/portal/cases/{case.id}"]


def test_anonymous_visitors_of_the_site_land_on_the_portal_and_staff_still_sign_in(app, client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert client.get("/login").status_code == 200
    html = factories.page_text(client.get("/portal/"))
    assert "Social assistance for low-income families" in html
    with app.test_request_context():
        verify = url_for("certificates.verify")
    assert 'href="/portal/sign-in"' in html and f'href="{verify}"' in html and 'href="/login"' in html


def test_signed_in_staff_still_go_to_their_home(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    sign_in(client, user)
    assert client.get("/").headers["Location"].endswith("/applications")


def test_the_portal_speaks_uzbek_unless_asked_otherwise(app):
    client = app.test_client()
    html = client.get("/portal/").get_data(as_text=True)
    assert '<html lang="uz">' in html


def test_home_signed_in_lists_the_households_applications_cases_and_certificate(client):
    application, lines, case = _household_with_everything()
    signed_in(client, application.applicant)
    html = factories.page_text(client.get("/portal/"))
    assert application.reference in html and "Decided" in html
    assert case.tracking_number in html
    assert 'action="/portal/sign-out"' in html
    viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "portal.viewed")
                               .order_by(AuditEvent.id.desc()))
    assert viewed.details == {"person_id": application.applicant_id, "page": "home"}


def test_every_page_is_small_has_no_script_and_labels_its_fields(client):
    application, lines, case = _household_with_everything()
    signed_in(client, application.applicant)
    for path in _pages(application, lines, case):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert gzipped_size(client, path) < LIMIT, path
        assert "<script" not in html and 'name="viewport"' in html, path
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
            assert f'for="{field_id}"' in html or field_id == "language", (path, field_id)
    assert "max-width" in client.get("/static/portal.css").get_data(as_text=True)


def test_another_households_ids_are_not_found(client):
    application, lines, case = _household_with_everything()
    stranger = factories.make_family(children=1)
    factories.commit()
    signed_in(client, stranger["head"])
    for path in _pages(application, lines, case)[2:]:
        assert client.get(path).status_code == 404, path
    path = f"/portal/payments/{lines[1].id}/complaint"
    response = client.post(path, data={"csrf_token": csrf(client), "description": "Not mine."})
    assert response.status_code == 404
    assert application.reference not in factories.page_text(client.get("/portal/"))


def test_no_pin_or_amount_in_any_address(client):
    application, lines, case = _household_with_everything()
    signed_in(client, application.applicant)
    pins = [member.person.pin for member in application.members]
    amounts = {str(line.amount) for line in lines} | {str(int(line.amount)) for line in lines}
    for path in _pages(application, lines, case):
        for link in links(client.get(path).get_data(as_text=True)):
            assert not any(pin in link for pin in pins), (path, link)
            assert not any(amount in link for amount in amounts), (path, link)


def test_a_household_without_active_enrolment_is_told_it_has_no_certificate(client):
    application, lines, case = _household_with_everything()  # its enrolments ended in November 2026
    signed_in(client, application.applicant)
    assert "Download the certificate (PDF)" not in factories.page_text(client.get("/portal/"))
    response = client.get("/portal/certificate")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert "no active enrolment" in factories.page_text(client.get("/portal/"))


def test_the_certificate_downloads_as_a_pdf_in_the_citizens_language(client):
    family = factories.assessed_family(children=1)
    factories.enrol(family, start=local_today().replace(day=1))
    factories.commit()
    signed_in(client, family["head"])
    assert "Download the certificate (PDF)" in factories.page_text(client.get("/portal/"))
    response = client.get("/portal/certificate")
    assert response.status_code == 200, factories.page_text(response)[:1000]
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]
    downloaded = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "portal.certificate_downloaded")
                                   .order_by(AuditEvent.id.desc()).limit(1))
    assert downloaded.details == {"person_id": family["head"].id, "language": "en"}


def test_the_citizens_pages_need_a_signed_in_citizen(client):
    application, lines, case = _household_with_everything()
    for path in _pages(application, lines, case)[1:] + ["/portal/certificate"]:
        response = client.get(path)
        assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"], path
