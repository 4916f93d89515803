"""The citizen's sign-in with a PIN, the phone number on file and a one-time code by SMS, through the test client;
codes are read from the SMS outbox (the notification table), as a citizen reads them on their phone."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from modules.portal import sms_code
from modules.portal.models import CitizenSignInCode
from modules.portal.session import KEY as CITIZEN
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, Notification
from webapp.pin import make_uz
from webapp.timeutil import utcnow

PHONE = "+998901234567"
_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
_serial = iter(range(500, 10_000))


def _portal_client(app, address: str = "10.1.0.1", language: str = "en"):
    client = app.test_client()
    client.environ_base.update(HTTP_ACCEPT_LANGUAGE=language, REMOTE_ADDR=address)
    return client


@pytest.fixture
def portal(app):
    return _portal_client(app)


@pytest.fixture
def citizen():
    return factories.make_person(phone=PHONE)


def _unknown_pin() -> str:
    return make_uz(date(1990, 1, 1), "F", 950, next(_serial))


def _csrf(client, path: str = "/portal/sign-in") -> str:
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _ask(client, pin: str, phone: str):
    return client.post("/portal/sign-in", data={"pin": pin, "phone": phone, "csrf_token": _csrf(client)})


def _enter(client, code: str):
    return client.post("/portal/sign-in/code", data={"code": code,
                                                     "csrf_token": _csrf(client)})


def _codes_sent(phone: str = PHONE) -> list[str]:
    bodies = db_scalars(select(Notification.body).where(Notification.to == phone,
                                                        Notification.template == sms_code.SMS_TEMPLATE)
                        .order_by(Notification.id))
    return [re.search(r"\b(\d{6})\b", body).group(1) for body in bodies]


def db_scalars(query):
    return list(db.session.scalars(query))


def _signed_in(client):
    with client.session_transaction() as session:
        return (session.get(CITIZEN) or {}).get("person_id")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_by_sms_signs_the_citizen_in(portal, citizen):
    started = utcnow()  # other tests' committed events stay in the trail
    page = portal.get("/portal/sign-in")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'for="pin"' in html and 'for="phone"' in html and len(page.data) < 60_000

    asked = _ask(portal, citizen.pin, "90 123-45-67")  # typed as people type it: normalised like the rest
    assert asked.status_code == 303 and asked.location.endswith("/portal/sign-in/code")
    [code] = _codes_sent()
    outbox = db_scalars(select(Notification).where(Notification.to == PHONE))[0]
    assert outbox.language == "en" and citizen.pin not in outbox.body

    code_page = portal.get("/portal/sign-in/code")
    assert code_page.status_code == 200 and "5 minutes" in code_page.get_data(as_text=True)
    assert len(code_page.data) < 60_000
    done = _enter(portal, f"{code[:3]} {code[3:]}")
    assert done.status_code == 303 and done.location.endswith("/portal/")
    assert _signed_in(portal) == citizen.id
    actions = db_scalars(select(AuditEvent.action).where(AuditEvent.action.like("citizen.%"),
                                                         AuditEvent.occurred_at >= started))
    assert actions == ["citizen.code_requested", "citizen.signed_in"]

    # Used once: the same code under the same ticket is refused.
    row = db_scalars(select(CitizenSignInCode))[-1]
    assert row.used_at is not None and not sms_code.is_live(row)


def test_the_sms_goes_in_the_citizens_language(app, citizen):
    client = _portal_client(app, language="uz")
    _ask(client, citizen.pin, PHONE)
    [notification] = db_scalars(select(Notification).where(Notification.to == PHONE))
    assert notification.language == "uz"


def test_the_answer_is_the_same_whether_or_not_the_details_match(app, citizen):
    answers = []
    for number, (pin, phone) in enumerate([(_unknown_pin(), PHONE), (citizen.pin, "+998901111111"),
                                           (citizen.pin, PHONE)]):
        client = _portal_client(app, address=f"10.2.0.{number}")
        response = _ask(client, pin, phone)
        page = _CSRF.sub("", client.get("/portal/sign-in/code").get_data(as_text=True))
        answers.append((response.status_code, response.location, page))
    assert answers[0] == answers[1] == answers[2]
    assert len(_codes_sent()) == 1  # only the matching details sent a code
    assert len(_codes_sent("+998901111111")) == 0
    # Every request left its row, so the limits count them alike.
    assert db_scalars(select(func.count()).select_from(CitizenSignInCode)) == [3]


def test_no_pin_in_any_address_redirect_or_audit_detail(portal, citizen):
    seen = []
    for response in (portal.get("/portal/sign-in?next=/portal/"), _ask(portal, citizen.pin, PHONE)):
        seen.append(response.location or "")
        seen += re.findall(r'(?:href|action)="([^"]*)"', response.get_data(as_text=True))
    code_page = portal.get("/portal/sign-in/code")
    seen += re.findall(r'(?:href|action)="([^"]*)"', code_page.get_data(as_text=True))
    wrong = _enter(portal, _wrong(_codes_sent()[0]))
    seen += re.findall(r'(?:href|action)="([^"]*)"', wrong.get_data(as_text=True))
    done = _enter(portal, _codes_sent()[0])
    seen.append(done.location)
    assert seen and not [url for url in seen if citizen.pin in url]
    details = json.dumps([event.details for event in db_scalars(select(AuditEvent))])
    assert citizen.pin not in details and PHONE not in details
    with portal.session_transaction() as session:
        assert citizen.pin not in json.dumps(dict(session))


def test_a_code_lasts_five_minutes(portal, citizen, monkeypatch):
    _ask(portal, citizen.pin, PHONE)
    [code] = _codes_sent()
    start = utcnow()
    monkeypatch.setattr(sms_code, "utcnow", lambda: start + timedelta(minutes=5, seconds=1))
    late = _enter(portal, code)
    assert late.status_code == 303 and late.location.endswith("/portal/sign-in")
    assert "can no longer be used" in portal.get("/portal/sign-in").get_data(as_text=True)
    assert _signed_in(portal) is None


def test_a_code_works_within_its_five_minutes(portal, citizen, monkeypatch):
    _ask(portal, citizen.pin, PHONE)
    [code] = _codes_sent()
    start = utcnow()
    monkeypatch.setattr(sms_code, "utcnow", lambda: start + timedelta(minutes=4, seconds=50))
    assert _enter(portal, code).status_code == 303
    assert _signed_in(portal) == citizen.id


def test_wrong_codes_are_counted_and_the_code_dies_after_five(portal, citizen):
    _ask(portal, citizen.pin, PHONE)
    [code] = _codes_sent()
    with portal.session_transaction() as session:
        ticket = session["citizen_ticket"]
    first = _enter(portal, _wrong(code))
    assert first.status_code == 401
    assert "You can try 4 more times" in first.get_data(as_text=True)
    for _ in range(3):
        assert _enter(portal, _wrong(code)).status_code == 401
    last = _enter(portal, _wrong(code))
    assert last.status_code == 303 and last.location.endswith("/portal/sign-in")
    assert "tried too many times" in portal.get("/portal/sign-in").get_data(as_text=True)
    # The right code no longer opens anything, even under the same ticket.
    with portal.session_transaction() as session:
        session["citizen_ticket"] = ticket
    assert _enter(portal, code).status_code == 303
    assert _signed_in(portal) is None
    failures = db_scalars(select(AuditEvent).where(AuditEvent.action == "citizen.sign_in_failed"))
    assert [event.details["reason"] for event in failures] == ["wrong_code"] * 5


def test_a_malformed_code_is_refused_without_counting(portal, citizen):
    _ask(portal, citizen.pin, PHONE)
    response = _enter(portal, "12ab")
    assert response.status_code == 400 and "6 digits" in response.get_data(as_text=True)
    assert db_scalars(select(CitizenSignInCode.attempts)) == [0]


def test_malformed_details_are_refused_and_nothing_is_written(portal):
    response = _ask(portal, "123", "hello")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A PIN has exactly 14 digits." in html and "Enter a mobile number" in html
    assert db_scalars(select(func.count()).select_from(CitizenSignInCode)) == [0]


def test_codes_per_pin_are_limited_whoever_asks(app, citizen):
    for number in range(sms_code.CODES_PER_PIN):
        assert _ask(_portal_client(app, f"10.3.0.{number}"), citizen.pin, f"+99890222000{number}").status_code == 303
    refused = _ask(_portal_client(app, "10.3.1.1"), citizen.pin, PHONE)
    assert refused.status_code == 429
    assert "Too many codes were asked for" in refused.get_data(as_text=True)
    assert _codes_sent() == []  # the right phone came too late: nothing was sent


def test_a_pin_nobody_has_is_limited_alike(app):
    pin = _unknown_pin()
    for number in range(sms_code.CODES_PER_PIN):
        assert _ask(_portal_client(app, f"10.4.0.{number}"), pin, f"+99890333000{number}").status_code == 303
    assert _ask(_portal_client(app, "10.4.1.1"), pin, PHONE).status_code == 429


def test_codes_per_phone_are_limited(app):
    for number in range(sms_code.CODES_PER_PHONE):
        assert _ask(_portal_client(app, f"10.5.0.{number}"), _unknown_pin(), PHONE).status_code == 303
    assert _ask(_portal_client(app, "10.5.1.1"), _unknown_pin(), PHONE).status_code == 429


def test_codes_per_address_are_limited(app):
    client = _portal_client(app, "10.6.0.1")
    for number in range(sms_code.CODES_PER_ADDRESS):
        assert _ask(client, _unknown_pin(), f"+9989044{number:05d}").status_code == 303
    refused = _ask(client, _unknown_pin(), PHONE)
    assert refused.status_code == 429
    refusal = db_scalars(select(AuditEvent).where(AuditEvent.action == "citizen.code_refused"))
    assert [event.details["reason"] for event in refusal] == ["address_limit"]
    # Another address is not held up.
    assert _ask(_portal_client(app, "10.6.0.2"), _unknown_pin(), PHONE).status_code == 303


def test_the_limits_forget_after_an_hour(app, citizen, monkeypatch):
    for number in range(sms_code.CODES_PER_PIN):
        _ask(_portal_client(app, f"10.7.0.{number}"), citizen.pin, PHONE)
    start = utcnow()
    monkeypatch.setattr(sms_code, "utcnow", lambda: start + timedelta(hours=1, minutes=1))
    assert _ask(_portal_client(app, "10.7.1.1"), citizen.pin, PHONE).status_code == 303


def test_the_citizen_returns_to_the_portal_page_they_asked_for(portal, citizen):
    portal.post("/portal/sign-in?next=/portal/apply",
                data={"pin": citizen.pin, "phone": PHONE, "csrf_token": _csrf(portal)})
    done = _enter(portal, _codes_sent()[0])
    assert done.location.endswith("/portal/apply")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/applications", "/portal/sign-in"])
def test_a_sign_in_never_returns_off_the_portal(portal, citizen, target):
    portal.post("/portal/sign-in", query_string={"next": target},
                data={"pin": citizen.pin, "phone": PHONE, "csrf_token": _csrf(portal)})
    done = _enter(portal, _codes_sent()[0])
    assert done.location.endswith("/portal/")


def test_the_code_page_without_a_request_goes_back_to_the_first_step(portal):
    response = portal.get("/portal/sign-in/code")
    assert response.status_code == 303 and response.location.endswith("/portal/sign-in")


def test_signing_out_ends_the_citizens_session(portal, citizen):
    _ask(portal, citizen.pin, PHONE)
    _enter(portal, _codes_sent()[0])
    assert _signed_in(portal) == citizen.id
    home = portal.get("/portal/")
    assert home.status_code == 200
    out = portal.post("/portal/sign-out", data={"csrf_token": _csrf(portal, "/portal/")})
    assert out.status_code == 303 and _signed_in(portal) is None
    assert portal.get("/portal/apply").status_code == 302


def test_a_staff_page_does_not_admit_a_signed_in_citizen(portal, citizen):
    _ask(portal, citizen.pin, PHONE)
    _enter(portal, _codes_sent()[0])
    assert _signed_in(portal) == citizen.id
    staff_page = portal.get("/applications")
    assert staff_page.status_code == 302 and "/login" in staff_page.location


def test_the_citizens_pages_do_not_admit_staff(client, registrar):
    staff = sign_in(client, registrar)
    response = staff.get("/portal/apply")
    assert response.status_code == 302 and "/portal/sign-in" in response.location
    assert staff.get("/portal/sign-in").status_code == 200  # staff may see the form, as anyone may


def test_the_pages_read_in_uzbek_by_default(app):
    client = app.test_client()
    html = client.get("/portal/sign-in").get_data(as_text=True)
    assert 'lang="uz"' in html
