"""Registration rules, driven through operations.register_application: each accepted and each refused, and a
refusal never leaves a row behind (Application, ApplicationMember, ApplicationEvent, Household, HouseholdMember,
AuditEvent are counted before and after)."""

from __future__ import annotations

from datetime import date

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from modules.registration import operations
from modules.registration.models import ApplicationStatus, Channel, HouseholdMember, Relation
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.registration.helpers import S, advance, counts, delta, refuse, register
from webapp.boundary import flatten_errors
from webapp.extensions import db
from webapp.models import Programme
from webapp.pin import icao_check_digit, make_uz

PHONE = "+998901234567"


def solo_payload(pin: str, **overrides) -> dict:
    payload = {"applicant_pin": pin, "phone": PHONE, "members": [], "programmes": ["material_support"],
               "channel": "office"}
    payload.update(overrides)
    return payload


def invalid(payload: dict) -> dict[str, list[str]]:
    """The payload is refused by ApplicationArgs before any rule runs; nothing is written."""
    before = counts()
    with pytest.raises(ValidationError) as refusal:
        ApplicationArgs().load(payload)
    assert counts() == before
    return flatten_errors(refusal.value.messages)


def flip_last_digit(pin: str) -> str:
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)


def with_check_digit(body: str) -> str:
    return body + str(icao_check_digit(body))


def membership(person) -> HouseholdMember | None:
    return db.session.scalar(select(HouseholdMember).where(HouseholdMember.person_id == person.id,
                                                           HouseholdMember.left_at.is_(None)))


# --- accepted ------------------------------------------------------------------------------------------------


def test_valid_family_is_registered_and_submitted(tk_registrar, set_today):
    set_today(date(2025, 3, 12))  # a Wednesday
    family = factories.make_family("UZ-TK", children=2)
    before = counts()

    application = register(factories.application_payload(family), tk_registrar)

    assert delta(before) == {"application": 1, "application_member": 4, "application_event": 2, "audit_event": 2}
    assert application.status is ApplicationStatus.submitted
    assert application.is_open is True
    assert application.household_id == family["household"].id
    assert application.applicant_id == family["head"].id
    assert application.area_id == family["household"].area_id
    assert application.period == "2025-03"
    assert application.reference == f"A-202503-{application.id:06d}"
    assert application.channel is Channel.office
    assert application.phone == PHONE
    assert application.created_by_id == tk_registrar.id
    assert [p.code for p in application.programmes] == ["child_allowance"]
    assert [(m.person_id, m.relation) for m in application.members] == [
        (family["head"].id, Relation.head), (family["spouse"].id, Relation.spouse),
        (family["children"][0].id, Relation.child), (family["children"][1].id, Relation.child)]
    assert all(m.is_open for m in application.members)
    assert application.submitted_at is not None
    assert application.due_at == date(2025, 3, 17)  # Thu, Fri, (weekend), Mon
    assert [(e.from_status, e.to_status) for e in application.events] == [(None, "draft"), ("draft", "submitted")]


def test_draft_is_saved_without_submission(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    before = counts()

    application = register(factories.application_payload(family), tk_registrar, submit=False)

    assert delta(before) == {"application": 1, "application_member": 3, "application_event": 1, "audit_event": 1}
    assert application.status is ApplicationStatus.draft
    assert application.is_open is True
    assert application.submitted_at is None and application.due_at is None
    assert [e.to_status for e in application.events] == ["draft"]


def test_applicant_only_application_is_accepted(tk_registrar):
    person = factories.make_person("UZ-TK")
    application = register(solo_payload(person.pin), tk_registrar)
    assert [m.person_id for m in application.members] == [person.id]
    assert application.members[0].relation is Relation.head


@pytest.mark.parametrize("programmes", [["child_allowance", "material_support"], ["maternity"]])
def test_several_programmes_are_linked(tk_registrar, programmes):
    family = factories.make_family("UZ-TK", children=1)
    application = register(factories.application_payload(family, programmes=programmes), tk_registrar)
    assert sorted(p.code for p in application.programmes) == sorted(programmes)


# --- PIN format ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["3020485001001", "302048500100123", "3020485A010012", "", "3020485 010012"])
def test_applicant_pin_must_be_14_digits(pin):
    assert invalid(solo_payload(pin)) == {"applicant_pin": ["A PIN has exactly 14 digits."]}


def test_member_pin_must_be_14_digits(tk_registrar):
    head = factories.make_person("UZ-TK")
    errors = invalid(solo_payload(head.pin, members=[{"pin": "1234567890123", "relation": "child"},
                                                     {"pin": "12345678901ab4", "relation": "child"}]))
    assert errors == {"members.0.pin": ["A PIN has exactly 14 digits."],
                      "members.1.pin": ["A PIN has exactly 14 digits."]}


def test_pins_are_stripped_before_validation(tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    payload = factories.application_payload(family)
    payload["applicant_pin"] = f"  {family['head'].pin} "
    payload["members"][0]["pin"] = f" {family['spouse'].pin}\t"
    application = register(payload, tk_registrar)
    assert [m.person.pin for m in application.members] == [family["head"].pin, family["spouse"].pin]


def test_bad_check_digit_in_register_is_refused(tk_registrar):
    valid = make_uz(date(1980, 5, 6), "M", 901, 1)
    person = factories.make_person("UZ-TK", date(1980, 5, 6), "M", pin=flip_last_digit(valid))
    errors = refuse(solo_payload(person.pin), tk_registrar)
    assert errors == {"applicant_pin": [
        "Invalid PIN: the check digit of the PINFL does not match (a digit was mistyped?)."]}


def test_mistyped_last_digit_is_refused(tk_registrar):
    person = factories.make_person("UZ-TK")
    errors = refuse(solo_payload(flip_last_digit(person.pin)), tk_registrar)
    assert list(errors) == ["applicant_pin"]


def test_mistyped_last_digit_is_reported_as_a_check_digit_error(tk_registrar):
    person = factories.make_person("UZ-TK")
    errors = refuse(solo_payload(flip_last_digit(person.pin)), tk_registrar)
    assert errors == {"applicant_pin": [
        "Invalid PIN: the check digit of the PINFL does not match (a digit was mistyped?)."]}


def test_impossible_birth_date_in_pin_is_refused(tk_registrar):
    pin = with_check_digit("3320485902001")  # day 32
    factories.make_person("UZ-TK", date(1985, 4, 2), "M", pin=pin)
    errors = refuse(solo_payload(pin), tk_registrar)
    assert errors == {"applicant_pin": ["Invalid PIN: the birth date encoded in the PIN is not a real date."]}


def test_bad_century_digit_is_refused(tk_registrar):
    pin = with_check_digit("7020485902002")
    factories.make_person("UZ-TK", date(1985, 4, 2), "M", pin=pin)
    errors = refuse(solo_payload(pin), tk_registrar)
    assert errors == {"applicant_pin": [
        "Invalid PIN: the first digit of a PINFL must be 1 to 6 (century and sex)."]}


def test_pin_disagreeing_with_register_birth_date_is_refused(tk_registrar):
    person = factories.make_person("UZ-TK", date(1985, 4, 2), "M", pin=make_uz(date(1985, 4, 3), "M", 902, 3))
    errors = refuse(solo_payload(person.pin), tk_registrar)
    assert errors == {"applicant_pin": [
        "Invalid PIN: the PIN encodes birth date 03.04.1985, the register has 02.04.1985."]}


def test_pin_disagreeing_with_register_sex_is_refused(tk_registrar):
    person = factories.make_person("UZ-TK", date(1985, 4, 2), "M", pin=make_uz(date(1985, 4, 2), "F", 902, 4))
    errors = refuse(solo_payload(person.pin), tk_registrar)
    assert errors == {"applicant_pin": ["Invalid PIN: the PIN encodes sex female, the register has male."]}


def test_member_pin_disagreeing_with_register_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    cousin = factories.make_person("UZ-TK", date(1990, 1, 1), "F", pin=make_uz(date(1991, 1, 1), "F", 902, 5))
    payload = factories.application_payload(family)
    payload["members"].append({"pin": cousin.pin, "relation": "other"})
    errors = refuse(payload, tk_registrar)
    assert errors == {"members.1.pin": [
        "Invalid PIN: the PIN encodes birth date 01.01.1991, the register has 01.01.1990."]}


def test_unknown_pin_is_refused(tk_registrar):
    pin = make_uz(date(1970, 1, 1), "M", 903, 1)
    errors = refuse(solo_payload(pin), tk_registrar)
    assert errors == {"applicant_pin": [f"No person with PIN {pin} in the population register."]}


def test_unknown_member_pin_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    pin = make_uz(date(2015, 6, 1), "F", 903, 2)
    payload = factories.application_payload(family)
    payload["members"].append({"pin": pin, "relation": "child"})
    errors = refuse(payload, tk_registrar)
    assert errors == {"members.2.pin": [f"No person with PIN {pin} in the population register."]}


def test_same_pin_twice_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    spouse = {"pin": family["spouse"].pin, "relation": "spouse"}
    errors = refuse(factories.application_payload(family, members=[spouse, dict(spouse, relation="other")]),
                    tk_registrar)
    assert errors == {"members.1.pin": ["This PIN is entered twice."]}


def test_applicant_listed_again_as_member_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    errors = refuse(factories.application_payload(family, members=[{"pin": family["head"].pin,
                                                                    "relation": "other"}]), tk_registrar)
    assert errors == {"members.0.pin": ["This PIN is entered twice."]}


# --- applicant's age, deceased persons -----------------------------------------------------------------------


def test_applicant_under_18_is_refused(tk_registrar, set_today):
    set_today(date(2026, 6, 14))
    young = factories.make_person("UZ-TK", date(2008, 6, 15), "F")
    errors = refuse(solo_payload(young.pin), tk_registrar)
    assert errors == {"applicant_pin": [
        f"The applicant must be an adult (18 or older); {young.full_name} is 17 years old."]}


def test_applicant_turning_18_today_is_accepted(tk_registrar, set_today):
    set_today(date(2026, 6, 15))
    young = factories.make_person("UZ-TK", date(2008, 6, 15), "F")
    application = register(solo_payload(young.pin), tk_registrar)
    assert application.applicant_id == young.id
    assert application.period == "2026-06"


def test_child_members_are_not_age_checked(tk_registrar):
    family = factories.make_family("UZ-TK", children=3)
    application = register(factories.application_payload(family), tk_registrar)
    assert len(application.members) == 5


@pytest.mark.parametrize("died", [date(2025, 3, 10), date(2020, 1, 1)])
def test_deceased_applicant_is_refused(tk_registrar, set_today, died):
    set_today(date(2025, 3, 10))
    family = factories.make_family("UZ-TK", children=0)
    family["head"].death_date = died
    errors = refuse(factories.application_payload(family), tk_registrar)
    assert errors == {"applicant_pin": [f"{family['head'].full_name} is recorded as deceased."]}


def test_deceased_member_is_refused(tk_registrar, set_today):
    set_today(date(2025, 3, 10))
    family = factories.make_family("UZ-TK", children=1)
    family["children"][0].death_date = date(2025, 2, 1)
    errors = refuse(factories.application_payload(family), tk_registrar)
    assert errors == {"members.1.pin": [f"{family['children'][0].full_name} is recorded as deceased."]}


# --- open applications, households, calendar month -----------------------------------------------------------


def test_person_in_another_open_application_is_refused_until_that_one_is_withdrawn(tk_registrar):
    first_family = factories.make_family("UZ-TK", children=1)
    first = register(factories.application_payload(first_family), tk_registrar)
    grandmother = first_family["spouse"]
    membership(grandmother).left_at = operations.today()  # she moved out; she is still on the open application
    second_family = factories.make_family("UZ-TK", children=0)
    payload = factories.application_payload(second_family)
    payload["members"].append({"pin": grandmother.pin, "relation": "parent"})

    errors = refuse(payload, tk_registrar)
    assert errors == {"members.1.pin": [f"This person is already in an open application, {first.reference}."]}

    operations.withdraw(first, tk_registrar, "family moved")
    second = register(payload, tk_registrar)
    assert grandmother.id in {m.person_id for m in second.members}
    assert membership(grandmother).household_id == second_family["household"].id
    assert membership(grandmother).relation is Relation.parent


def test_one_open_application_per_household(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    first = register(factories.application_payload(family), tk_registrar)
    # the spouse applies for the same household
    payload = factories.application_payload(family, applicant_pin=family["spouse"].pin,
                                            members=[{"pin": family["head"].pin, "relation": "spouse"}])
    errors = refuse(payload, tk_registrar)
    assert errors == {"applicant_pin": [f"This household already has an open application, {first.reference}."]}


@pytest.mark.parametrize("status", [S.draft, S.collecting, S.assessed])
def test_any_open_status_blocks_a_new_application(tk_registrar, status):
    family = factories.make_family("UZ-TK", children=0)
    first = advance(register(factories.application_payload(family), tk_registrar, submit=False), status,
                    tk_registrar)
    errors = refuse(factories.application_payload(family), tk_registrar)
    assert errors == {"applicant_pin": [f"This household already has an open application, {first.reference}."]}


def test_one_application_per_calendar_month(tk_registrar, set_today):
    set_today(date(2025, 1, 10))
    family = factories.make_family("UZ-TK", children=1)
    payload = factories.application_payload(family)
    first = advance(register(payload, tk_registrar), S.decided, tk_registrar)

    set_today(date(2025, 1, 31))
    errors = refuse(payload, tk_registrar)
    assert errors == {"applicant_pin": [
        f"This household already applied this month ({first.reference}); "
        "the next application can be made from the 1st of next month."]}

    set_today(date(2025, 2, 1))
    second = register(payload, tk_registrar)
    assert second.period == "2025-02"
    assert second.status is ApplicationStatus.submitted


def test_withdrawn_application_does_not_count_for_the_month(tk_registrar, set_today):
    set_today(date(2025, 1, 10))
    family = factories.make_family("UZ-TK", children=1)
    payload = factories.application_payload(family)
    first = register(payload, tk_registrar)
    operations.withdraw(first, tk_registrar, "wrong programme")

    set_today(date(2025, 1, 20))
    again = register(payload, tk_registrar, programmes=["material_support"])
    assert again.id != first.id
    assert again.period == first.period == "2025-01"
    assert again.household_id == first.household_id
    assert again.status is ApplicationStatus.submitted


def test_new_application_next_month_after_withdrawal(tk_registrar, set_today):
    set_today(date(2025, 1, 30))
    family = factories.make_family("UZ-TK", children=1)
    payload = factories.application_payload(family)
    operations.withdraw(register(payload, tk_registrar), tk_registrar, "documents missing")

    set_today(date(2025, 2, 3))
    application = register(payload, tk_registrar)
    assert application.period == "2025-02"


def test_member_of_another_household_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    neighbours = factories.make_family("UZ-TK", children=0)
    payload = factories.application_payload(family)
    payload["members"].append({"pin": neighbours["spouse"].pin, "relation": "other"})
    errors = refuse(payload, tk_registrar)
    assert errors == {"members.2.pin": [
        f"{neighbours['spouse'].full_name} belongs to another household (no. {neighbours['household'].id}); "
        "record the move there first."]}


def test_applicant_without_household_gets_a_new_one(tk_registrar, set_today):
    set_today(date(2025, 4, 7))
    family = factories.make_family("UZ-TK", children=2, household=False)
    before = counts()

    application = register(factories.application_payload(family), tk_registrar)

    assert delta(before) == {"household": 1, "household_member": 4, "application": 1, "application_member": 4,
                             "application_event": 2, "audit_event": 2}
    household = application.household
    assert household.area_id == family["head"].area_id == application.area_id
    rows = {m.person_id: m for m in household.members}
    assert {pid: m.relation for pid, m in rows.items()} == {
        family["head"].id: Relation.head, family["spouse"].id: Relation.spouse,
        family["children"][0].id: Relation.child, family["children"][1].id: Relation.child}
    assert {m.joined_at for m in rows.values()} == {date(2025, 4, 7)}


def test_applicant_without_household_cannot_take_a_member_of_another_household(tk_registrar):
    family = factories.make_family("UZ-TK", children=0, household=False)
    others = factories.make_family("UZ-TK", children=1)
    payload = factories.application_payload(family)
    payload["members"].append({"pin": others["children"][0].pin, "relation": "child"})
    errors = refuse(payload, tk_registrar)
    assert list(errors) == ["members.1.pin"]
    assert "belongs to another household" in errors["members.1.pin"][0]


def test_new_member_joins_the_existing_household(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    baby = factories.make_person("UZ-TK", date(2024, 11, 5), "F")
    payload = factories.application_payload(family)
    payload["members"].append({"pin": baby.pin, "relation": "child"})
    before = counts()

    application = register(payload, tk_registrar)

    assert delta(before) == {"household_member": 1, "application": 1, "application_member": 4,
                             "application_event": 2, "audit_event": 2}
    assert membership(baby).household_id == family["household"].id == application.household_id


# --- who registers, programmes, channel, phone ---------------------------------------------------------------


def test_applicant_outside_the_registrars_area_is_refused(sa_registrar):
    family = factories.make_family("UZ-TK", children=1)
    errors = refuse(factories.application_payload(family), sa_registrar)
    assert errors == {"applicant_pin": [
        "This family lives outside your areas; the registrar of its area registers it."]}


def test_registrar_scoped_to_a_district_registers_there_only(app):
    district_registrar = factories.make_user("registrar", areas=["UZ-TK-02"])
    inside = factories.make_family("UZ-TK-02", children=0)
    outside = factories.make_family("UZ-TK-01", children=0)
    assert register(factories.application_payload(inside), district_registrar).area.code == "UZ-TK-02-M01"
    assert list(refuse(factories.application_payload(outside), district_registrar)) == ["applicant_pin"]


def test_unknown_programme_is_refused(tk_registrar):
    family = factories.make_family("UZ-TK", children=1)
    errors = refuse(factories.application_payload(family, programmes=["child_allowance", "space", "moon"]),
                    tk_registrar)
    assert errors == {"programmes": ["Unknown programmes: moon, space."]}


def test_inactive_programme_is_refused(tk_registrar):
    db.session.scalar(select(Programme).where(Programme.code == "maternity")).active = False
    family = factories.make_family("UZ-TK", children=1)
    errors = refuse(factories.application_payload(family, programmes=["maternity"]), tk_registrar)
    assert errors == {"programmes": ["Unknown programme: maternity."]}


def test_no_programme_is_refused():
    family = factories.make_family("UZ-TK", children=0)
    assert invalid(factories.application_payload(family, programmes=[])) == {
        "programmes": ["Choose at least one programme."]}
    payload = factories.application_payload(family)
    del payload["programmes"]
    assert invalid(payload) == {"programmes": ["This field is required."]}


@pytest.mark.parametrize("channel", ["fax", "", "OFFICE"])
def test_bad_channel_is_refused(channel):
    family = factories.make_family("UZ-TK", children=0)
    assert invalid(factories.application_payload(family, channel=channel)) == {"channel": ["Choose a channel."]}


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_every_channel_is_accepted(tk_registrar, channel):
    family = factories.make_family("UZ-TK", children=0)
    assert register(factories.application_payload(family, channel=channel), tk_registrar).channel == channel


@pytest.mark.parametrize("relation", ["head", "cousin", ""])
def test_bad_member_relation_is_refused(relation):
    family = factories.make_family("UZ-TK", children=0)
    payload = factories.application_payload(family, members=[{"pin": family["spouse"].pin, "relation": relation}])
    assert invalid(payload) == {"members.0.relation": ["Choose spouse, child, parent or other."]}


def test_missing_fields_are_refused():
    assert invalid({}) == {key: ["This field is required."]
                           for key in ("applicant_pin", "phone", "programmes", "channel")}


@pytest.mark.parametrize("phone", ["12345", "+7 901 234 56 78", "90 123 45 6", "998 90 123 45 678", "abc", ""])
def test_bad_phone_is_refused(phone):
    family = factories.make_family("UZ-TK", children=0)
    assert invalid(factories.application_payload(family, phone=phone)) == {
        "phone": ["Enter a mobile number as +998 XX XXX XX XX."]}


@pytest.mark.parametrize("raw", ["90 123 45 67", "901234567", "998901234567", "+998 (90) 123-45-67",
                                 " +998901234567 ", "90-123-45-67"])
def test_phone_is_normalised(raw):
    family = factories.make_family("UZ-TK", children=0)
    assert ApplicationArgs().load(factories.application_payload(family, phone=raw))["phone"] == "+998901234567"


def test_normalised_phone_is_stored(tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    application = register(factories.application_payload(family, phone="90 123 45 67"), tk_registrar)
    db.session.expire(application)
    assert application.phone == "+998901234567"


def test_several_refusals_are_reported_together(tk_registrar, set_today):
    set_today(date(2025, 3, 10))
    family = factories.make_family("UZ-TK", children=1)
    family["children"][0].death_date = date(2025, 1, 1)
    unknown = make_uz(date(1999, 9, 9), "M", 904, 1)
    payload = factories.application_payload(family, programmes=["nothing"])
    payload["members"].append({"pin": unknown, "relation": "other"})
    errors = refuse(payload, tk_registrar)
    assert set(errors) == {"members.1.pin", "members.2.pin", "programmes"}


@pytest.mark.no_request_context
def test_refusal_outside_a_request_is_a_registration_error(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    family = factories.make_family("UZ-TK", children=0)
    with pytest.raises(operations.RegistrationError):
        register(factories.application_payload(family, programmes=["nothing"]), user)


# --- two registrars at once: the unique indexes have the last word -------------------------------------------

RACE_MESSAGE = "Someone registered an application for this family at the same moment; reload and check."


@pytest.fixture
def lost_race(monkeypatch):
    """The other registrar's application is committed between our checks and our insert: the checks see nothing."""
    monkeypatch.setattr(operations, "_check_open_applications", lambda *_args, **_kwargs: None)


def test_lost_race_is_refused_by_the_database(tk_registrar, lost_race):
    family = factories.make_family("UZ-TK", children=0)
    register(factories.application_payload(family), tk_registrar)
    with pytest.raises(operations.RegistrationError) as refusal:
        register(factories.application_payload(family), tk_registrar)
    assert refusal.value.errors == {"applicant_pin": [RACE_MESSAGE]}


def test_lost_race_leaves_the_session_usable_and_unchanged(tk_registrar, lost_race):
    family = factories.make_family("UZ-TK", children=0)
    register(factories.application_payload(family), tk_registrar)
    before = counts()
    with pytest.raises(operations.RegistrationError):
        register(factories.application_payload(family), tk_registrar)
    assert counts() == before
