"""The SMS notices page: staff read what citizens were sent, within their areas, never the full number."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from modules.notifications.operations import queue_sms
from modules.registration import operations
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, Notification, NotificationStatus

TASHKENT_PHONE = "+998901112233"
SAMARKAND_PHONE = "+998935556677"


def _application(area_code: str, registrar):
    family = factories.make_family(area_code)
    return operations.register_application(ApplicationArgs().load(factories.application_payload(family)), registrar)


def _notice(application, key: str, phone: str, body: str) -> Notification:
    return queue_sms(key, phone, body, "uz", "decision", application_id=application.id)


@pytest.fixture
def messages(app):
    """Two messages in Tashkent (one sent by the outbox, one failed) and one in Samarkand."""
    tashkent = factories.make_user("registrar", areas=["UZ-TK"])
    samarkand = factories.make_user("registrar", areas=["UZ-SA"])
    first = _notice(_application("UZ-TK", tashkent), "test:tk:1", TASHKENT_PHONE, "Tashkent decision one")
    second = _notice(_application("UZ-TK", tashkent), "test:tk:2", TASHKENT_PHONE, "Tashkent decision two")
    other = _notice(_application("UZ-SA", samarkand), "test:sa:1", SAMARKAND_PHONE, "Samarkand decision")
    db.session.commit()  # the outbox marks all three sent
    db.session.get(Notification, second.id).status = NotificationStatus.failed
    db.session.commit()
    return {"tashkent": tashkent, "samarkand": samarkand, "first": first, "second": second, "other": other}


def _rows(html: str) -> int:
    return len(re.findall(r"<tr>\s*<td>", html))


def test_staff_see_their_areas_messages_newest_first_with_the_number_masked(client, messages):
    sign_in(client, messages["tashkent"])
    response = client.get("/notifications")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("Tashkent decision two") < html.index("Tashkent decision one"), "newest first"
    assert "Samarkand decision" not in html, "another region's messages stay out of sight"
    assert TASHKENT_PHONE not in html and "2233" in html, "only the last 4 digits are shown"
    assert 'status-sent">Sent<' in html and 'status-failed">Failed<' in html
    assert "<code>decision</code>" in html and "<td>uz</td>" in html
    assert 'href="/notifications"' in html, "the navigation links the page"


def test_the_page_filters_by_status_and_paginates(client, messages):
    sign_in(client, messages["tashkent"])
    failed = client.get("/notifications?status=failed").get_data(as_text=True)
    assert "Tashkent decision two" in failed and "Tashkent decision one" not in failed
    first_page = client.get("/notifications?per_page=1").get_data(as_text=True)
    assert _rows(first_page) == 1 and "Page 1 of 2" in first_page and "page=2" in first_page
    second_page = client.get("/notifications?per_page=1&page=2").get_data(as_text=True)
    assert "Tashkent decision one" in second_page and "Tashkent decision two" not in second_page


def test_an_unknown_status_filter_is_named_and_ignored(client, messages):
    sign_in(client, messages["tashkent"])
    html = client.get("/notifications?status=lost").get_data(as_text=True)
    assert "Some filters were not understood" in html and "Tashkent decision one" in html


def test_national_staff_see_every_region(client, messages):
    sign_in(client, factories.make_user("auditor", national=True))
    html = client.get("/notifications").get_data(as_text=True)
    assert "Samarkand decision" in html and "Tashkent decision one" in html


def test_listing_is_audited(client, messages):
    sign_in(client, messages["samarkand"])
    client.get("/notifications")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "notifications.listed")
                              .order_by(AuditEvent.id.desc()))
    assert event is not None and event.details["ids"] == [messages["other"].id]


@pytest.mark.parametrize("role", ["finance_maker", "finance_checker", "analyst"])
def test_staff_without_the_permission_get_403_and_no_link(client, messages, role):
    sign_in(client, factories.make_user(role, areas=["UZ-TK"]))
    response = client.get("/notifications")
    assert response.status_code == 403
    assert "Tashkent decision" not in response.get_data(as_text=True)
    assert 'href="/notifications"' not in client.get("/jobs").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client, messages):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
