"""The staff 'New application' form: the same rules as the operation, shown on the page with status 422."""

from __future__ import annotations

import html
from datetime import date

import pytest

from modules.registration import operations
from modules.registration.models import Application, ApplicationStatus
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import commit, counts, delta, register
from webapp.extensions import db
from webapp.pin import make_uz


def post_new(client, payload: dict, action: str = "submit"):
    return client.post("/applications/new", data=factories.form_data(payload, client.csrf, action))


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def assert_refused(client, payload: dict, *messages: str, action: str = "submit") -> str:
    before = counts()
    response = post_new(client, payload, action)
    text = page(response)
    assert response.status_code == 422, text[-1500:]
    assert "The application was not saved. Correct the fields marked below." in text
    for message in messages:
        assert message in text
    assert counts() == before
    return text


@pytest.fixture
def signed_in(client, tk_registrar):
    return sign_in(client, tk_registrar)


def test_form_is_shown_to_a_registrar(signed_in):
    response = signed_in.get("/applications/new")
    assert response.status_code == 200
    assert 'name="applicant_pin"' in response.get_data(as_text=True)


def test_form_is_forbidden_to_a_social_worker(client):
    sign_in(client, factories.make_user("social_worker", areas=["UZ-TK"]))
    assert client.get("/applications/new").status_code == 403
    family = factories.make_family("UZ-TK", children=0)
    commit()
    before = counts()
    response = post_new(client, factories.application_payload(family))
    assert response.status_code == 403
    assert counts() == before


def test_form_registers_and_redirects_to_the_application(signed_in, tk_registrar, set_today):
    set_today(date(2025, 5, 9))  # a Friday
    family = factories.make_family("UZ-TK", children=2)
    commit()
    before = counts()

    response = post_new(signed_in, factories.application_payload(family, phone="90 123 45 67"))

    assert response.status_code == 302, page(response)[-1500:]
    assert delta(before) == {"application": 1, "application_member": 4, "application_event": 2, "audit_event": 2}
    application = db.session.get(Application, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert application.household_id == family["household"].id
    assert application.status is ApplicationStatus.submitted
    assert application.phone == "+998901234567"
    assert application.due_at == date(2025, 5, 14)
    detail = page(signed_in.get(response.headers["Location"]))
    assert f"Application {application.reference} registered; decision due by 14.05.2025." in detail
    assert family["spouse"].pin in detail


def test_form_saves_a_draft(signed_in):
    family = factories.make_family("UZ-TK", children=1)
    commit()
    response = post_new(signed_in, factories.application_payload(family), action="draft")
    assert response.status_code == 302
    application = db.session.get(Application, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert application.status is ApplicationStatus.draft
    assert application.due_at is None
    assert "decision due by —" in page(signed_in.get(response.headers["Location"]))


def test_form_refuses_an_unknown_pin(signed_in):
    family = factories.make_family("UZ-TK", children=1)
    commit()
    pin = make_uz(date(1970, 1, 1), "F", 910, 1)
    text = assert_refused(signed_in, factories.application_payload(family, applicant_pin=pin),
                          f"No person with PIN {pin} in the population register.")
    assert f'value="{pin}"' in text  # the form keeps what was typed


def test_form_refuses_a_short_member_pin(signed_in):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    payload = factories.application_payload(family, members=[{"pin": "1234567890123", "relation": "spouse"}])
    assert_refused(signed_in, payload, "A PIN has exactly 14 digits.")


def test_form_refuses_a_bad_phone(signed_in):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    assert_refused(signed_in, factories.application_payload(family, phone="12 34"),
                   "Enter a mobile number as +998 XX XXX XX XX.")


def test_form_refuses_without_a_programme(signed_in):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    assert_refused(signed_in, factories.application_payload(family, programmes=[]), "Choose at least one programme.")


def test_form_refuses_a_bad_channel(signed_in):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    assert_refused(signed_in, factories.application_payload(family, channel="fax"), "Choose a channel.")


def test_form_refuses_a_deceased_member(signed_in, set_today):
    set_today(date(2025, 6, 2))
    family = factories.make_family("UZ-TK", children=1)
    family["spouse"].death_date = date(2025, 6, 1)
    commit()
    assert_refused(signed_in, factories.application_payload(family),
                   f"{family['spouse'].full_name} is recorded as deceased.")


def test_form_refuses_an_under_age_applicant(signed_in, set_today):
    set_today(date(2025, 6, 2))
    young = factories.make_person("UZ-TK", date(2007, 6, 3), "M")
    commit()
    payload = {"applicant_pin": young.pin, "phone": "+998901234567", "members": [],
               "programmes": ["material_support"], "channel": "office"}
    assert_refused(signed_in, payload,
                   f"The applicant must be an adult (18 or older); {young.full_name} is 17 years old.")


def test_form_refuses_a_family_outside_the_registrars_area(client, sa_registrar):
    sign_in(client, sa_registrar)
    family = factories.make_family("UZ-TK", children=0)
    commit()
    assert_refused(client, factories.application_payload(family),
                   "This family lives outside your areas; the registrar of its area registers it.")


def test_form_refuses_a_second_open_application_for_the_household(signed_in, tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    first = register(factories.application_payload(family), tk_registrar)
    commit()
    assert_refused(signed_in, factories.application_payload(family),
                   f"This household already has an open application, {first.reference}.")


def test_refusal_leaves_no_new_household_behind(signed_in):
    family = factories.make_family("UZ-TK", children=0, household=False)
    commit()
    payload = factories.application_payload(family, programmes=["nothing"])
    assert_refused(signed_in, payload, "Unknown programme: nothing.")


def test_form_without_csrf_token_is_refused(signed_in):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    before = counts()
    data = factories.form_data(factories.application_payload(family), "")
    del data["csrf_token"]
    response = signed_in.post("/applications/new", data=data)
    assert response.status_code == 400
    assert counts() == before


def test_form_explains_a_lost_race(signed_in, tk_registrar, monkeypatch):
    family = factories.make_family("UZ-TK", children=0)
    register(factories.application_payload(family), tk_registrar)
    commit()
    # the other registrar's application is committed between our checks and our insert
    monkeypatch.setattr(operations, "_check_open_applications", lambda *_args, **_kwargs: None)
    assert_refused(signed_in, factories.application_payload(family),
                   "Someone registered an application for this family at the same moment; reload and check.")
