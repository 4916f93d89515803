"""Applying through the portal: the family proposed from the register, confirmed, trimmed or added to by PIN,
submitted through registration's operation (channel portal) with its rules."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from modules.registration.models import Application, ApplicationStatus, Channel
from tests import factories
from tests.portal.portal_pages_helpers import csrf, signed_in
from webapp.extensions import db
from webapp.models import AuditEvent


@pytest.fixture
def family():
    family = factories.make_family(children=2)
    factories.commit()  # a refused request rolls back its own work, not the family
    return family


def _form(client, family, **overrides) -> dict:
    data = {"csrf_token": csrf(client, "/portal/apply"),
            "keep": [str(family["spouse"].id)] + [str(kid.id) for kid in family["children"]],
            "programmes": ["child_allowance"], "phone": "90 123 45 67", "language": "ru", "consent": "1"}
    data.update(overrides)
    return data


def _applications(family) -> list[Application]:
    return list(db.session.scalars(select(Application).where(Application.applicant_id == family["head"].id)))


def test_the_family_is_proposed_from_the_register_with_the_sources_and_their_legal_basis(client, family):
    signed_in(client, family["head"])
    html = factories.page_text(client.get("/portal/apply"))
    for person in [family["spouse"], *family["children"]]:
        assert person.full_name in html
        assert person.pin not in html  # a name is enough: PINs are not shown back
    assert "population register lists in your household" in html
    assert "State Tax Committee — salaries and entrepreneurial income" in html
    assert "Resolution No. 308" in html and "item 1" in html
    assert 'name="consent"' in html and 'for="phone"' in html


def test_applying_registers_a_portal_application_for_the_household(client, family):
    signed_in(client, family["head"])
    response = client.post("/portal/apply", data=_form(client, family))
    assert response.status_code == 302, factories.page_text(response)[:2000]
    [application] = _applications(family)
    assert response.headers["Location"].endswith(f"/portal/applications/{application.id}")
    assert application.channel is Channel.portal and application.status is ApplicationStatus.submitted
    assert application.household_id == family["household"].id and application.language == "ru"
    assert application.phone == "+998901234567" and application.created_by_id is None
    assert {m.person_id for m in application.members} == {family["head"].id, family["spouse"].id,
                                                          *(kid.id for kid in family["children"])}
    created = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "application.created",
                                                         AuditEvent.object_id == str(application.id)))
    assert created.details["channel"] == "portal"
    assert application.reference in factories.page_text(client.get(response.headers["Location"]))


def test_a_member_unticked_stays_out_and_one_added_by_pin_comes_in(client, family):
    newcomer = factories.make_person(first_name="Newcomer")
    factories.commit()
    signed_in(client, family["head"])
    data = _form(client, family, keep=[str(family["spouse"].id), str(family["children"][0].id)],
                 new_pin=[newcomer.pin, "", ""], new_relation=["parent", "other", "other"])
    assert client.post("/portal/apply", data=data).status_code == 302
    [application] = _applications(family)
    relations = {m.person_id: m.relation.value for m in application.members}
    assert family["children"][1].id not in relations
    assert relations[newcomer.id] == "parent"


def test_a_person_of_another_household_cannot_be_slipped_in_by_id(client, family):
    other = factories.make_family(children=1)
    factories.commit()
    signed_in(client, family["head"])
    data = _form(client, family, keep=[str(family["spouse"].id), str(other["spouse"].id)])
    assert client.post("/portal/apply", data=data).status_code == 302
    [application] = _applications(family)
    assert other["spouse"].id not in {m.person_id for m in application.members}


def test_without_consent_nothing_is_sent(client, family):
    signed_in(client, family["head"])
    data = _form(client, family)
    del data["consent"]
    response = client.post("/portal/apply", data=data)
    assert response.status_code == 422
    assert "Agree to the data being requested" in factories.page_text(response)
    assert _applications(family) == []


def test_an_unknown_pin_is_named_beside_its_row(client, family):
    signed_in(client, family["head"])
    stranger = factories.make_person()
    factories.commit()
    unknown = stranger.pin[:-1] + str((int(stranger.pin[-1]) + 1) % 10)
    response = client.post("/portal/apply", data=_form(client, family, new_pin=[unknown]))
    assert response.status_code == 422
    html = factories.page_text(response)
    assert 'id="new-0-errors"' in html and ("Invalid PIN" in html or "No person with PIN" in html)
    assert _applications(family) == []


def test_the_same_rules_one_open_application_and_one_a_month(client, family):
    signed_in(client, family["head"])
    assert client.post("/portal/apply", data=_form(client, family)).status_code == 302
    response = client.post("/portal/apply", data=_form(client, family))
    assert response.status_code == 422
    assert "already has an open application" in factories.page_text(response)
    [first] = _applications(family)
    first.status, first.is_open = ApplicationStatus.decided, False  # decided since, as the household's claim
    for member in first.members:
        member.is_open = False
    factories.commit()
    response = client.post("/portal/apply", data=_form(client, family))
    assert response.status_code == 422
    assert "already applied this month" in factories.page_text(response)


def test_a_spouse_applying_sees_the_head_as_spouse_and_the_children_as_children(client, family):
    signed_in(client, family["spouse"])
    html = factories.page_text(client.get("/portal/apply"))
    head = f'name="relation-{family["head"].id}"'
    assert head in html
    after = html[html.index(head):]
    assert after.index('value="spouse" selected') < after.index("</select>")


def test_a_citizen_in_no_household_adds_the_family_by_pin(client):
    alone = factories.make_person(first_name="Alone")
    child = factories.make_person(first_name="Kid", birth_date=date(2015, 3, 3))
    factories.commit()
    signed_in(client, alone)
    assert "lists no one else" in factories.page_text(client.get("/portal/apply"))
    data = {"csrf_token": csrf(client, "/portal/apply"), "new_pin": [child.pin], "new_relation": ["child"],
            "programmes": ["child_allowance"], "phone": "+998901112233", "consent": "on"}
    assert client.post("/portal/apply", data=data).status_code == 302
    application = db.session.scalar(select(Application).where(Application.applicant_id == alone.id))
    assert {m.person_id for m in application.members} == {alone.id, child.id}


def test_applying_needs_a_signed_in_citizen(client):
    response = client.get("/portal/apply")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
