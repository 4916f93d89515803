"""The member rows of the 'New application' form: any number up to the bound, added and removed without JavaScript
(the buttons post the form back and it comes back with every row kept), and the bound refused with a message."""

from __future__ import annotations

import html
import re

import pytest

from modules.registration.models import Application
from modules.registration.schemas import MAX_MEMBERS
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import bearer, commit, counts, delta
from webapp.extensions import db

TOO_MANY = f"An application lists at most {MAX_MEMBERS} family members besides the applicant."
_ROW = re.compile(r'<input id="member_pin_(\d+)" name="member_pin" value="([^"]*)"')
_SELECTED = re.compile(r'<select id="member_relation_(\d+)" name="member_relation">(.*?)</select>', re.S)


@pytest.fixture
def signed_in(client, tk_registrar):
    return sign_in(client, tk_registrar)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def rows(page: str) -> list[tuple[str, str]]:
    """(PIN, relation chosen) of each member row, in order."""
    pins = [(int(index), value) for index, value in _ROW.findall(page)]
    assert [index for index, _ in pins] == list(range(len(pins))), "rows are numbered 0, 1, 2..."
    relations = []
    for _index, options in _SELECTED.findall(page):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        relations.append(chosen.group(1) if chosen else "")
    return [(pin, relation) for (_, pin), relation in zip(pins, relations, strict=True)]


def post(client, payload: dict, action: str):
    return client.post("/applications/new", data=factories.form_data(payload, client.csrf, action))


def six_person_family() -> dict:
    family = factories.make_family("UZ-TK", children=4)  # head, spouse and four children
    commit()
    return family


def test_the_form_starts_with_four_rows_and_the_buttons(signed_in):
    page = text(signed_in.get("/applications/new"))
    assert rows(page) == [("", "")] * 4
    assert 'name="action" value="add_member"' in page and "Add a member" in page
    assert [f'value="remove_member:{i}"' in page for i in range(4)] == [True] * 4
    assert page.count(">Remove</button>") == 4


def test_add_a_member_posts_back_and_keeps_every_row(signed_in):
    family = six_person_family()
    payload = factories.application_payload(family, phone="90 123 45 67", programmes=["child_allowance"])
    before = counts()

    response = post(signed_in, payload, "add_member")

    assert response.status_code == 200
    page = text(response)
    members = [(m["pin"], m["relation"]) for m in payload["members"]]
    assert rows(page) == [*members, ("", "")]  # the five typed and a sixth, blank
    assert f'value="{family["head"].pin}"' in page
    assert 'value="90 123 45 67"' in page
    assert 'value="child_allowance" checked' in page
    assert "The application was not saved" not in page
    assert delta(before) == {}


def test_add_keeps_blank_rows_where_they_were(signed_in):
    family = six_person_family()
    data = factories.form_data(factories.application_payload(family), signed_in.csrf, "add_member")
    data["member_pin"] = [family["spouse"].pin, "", family["children"][0].pin]
    data["member_relation"] = ["spouse", "", "child"]
    page = text(signed_in.post("/applications/new", data=data))
    assert rows(page) == [(family["spouse"].pin, "spouse"), ("", ""), (family["children"][0].pin, "child"), ("", "")]


def test_remove_takes_out_that_row_only(signed_in):
    family = six_person_family()
    payload = factories.application_payload(family)
    before = counts()

    response = post(signed_in, payload, "remove_member:1")

    assert response.status_code == 200
    members = [(m["pin"], m["relation"]) for m in payload["members"]]
    assert rows(text(response)) == members[:1] + members[2:]
    assert delta(before) == {}


@pytest.mark.parametrize("action", ["remove_member:99", "remove_member:x", "remove_member:", "remove_member:-1"])
def test_a_remove_of_no_row_changes_nothing(signed_in, action):
    family = six_person_family()
    payload = factories.application_payload(family)
    response = post(signed_in, payload, action)
    assert response.status_code == 200
    assert rows(text(response)) == [(m["pin"], m["relation"]) for m in payload["members"]]


def test_a_six_person_family_is_entered_through_the_buttons(signed_in):
    family = six_person_family()
    payload = factories.application_payload(family)
    members = payload["members"]
    assert len(members) == 5

    # Four rows on the empty form; the registrar fills them, presses "Add a member" and fills the fifth.
    first = dict(payload, members=members[:4])
    page = text(post(signed_in, first, "add_member"))
    assert len(rows(page)) == 5
    before = counts()
    response = post(signed_in, payload, "submit")

    assert response.status_code == 302, text(response)[-1500:]
    application = db.session.get(Application, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert len(application.members) == 6
    assert delta(before)["application_member"] == 6


def test_more_members_than_the_bound_are_refused_with_a_message(signed_in):
    family = six_person_family()
    extra = [{"pin": f"{i:014d}", "relation": "other"} for i in range(MAX_MEMBERS - 4)]
    payload = factories.application_payload(family, members=factories.application_payload(family)["members"] + extra)
    assert len(payload["members"]) == MAX_MEMBERS + 1
    before = counts()

    response = post(signed_in, payload, "submit")

    assert response.status_code == 422
    page = text(response)
    assert TOO_MANY in page
    assert "The application was not saved" in page
    assert len(rows(page)) == MAX_MEMBERS  # the form never shows more rows than may be sent
    assert counts() == before


def test_add_stops_at_the_bound(signed_in):
    family = six_person_family()
    full = [{"pin": f"{i:014d}", "relation": "other"} for i in range(MAX_MEMBERS)]
    response = post(signed_in, factories.application_payload(family, members=full), "add_member")
    page = text(response)
    assert response.status_code == 422
    assert TOO_MANY in page
    assert len(rows(page)) == MAX_MEMBERS
    assert re.search(r'value="add_member"[^>]*disabled', page)


def test_the_bound_holds_for_the_api_too(client, tk_registrar):
    family = six_person_family()
    headers = bearer(tk_registrar)
    extra = [{"pin": f"{i:014d}", "relation": "other"} for i in range(MAX_MEMBERS + 1)]
    before = counts()
    response = client.post("/api/v1/applications", json=factories.application_payload(family, members=extra),
                           headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]["members"] == [TOO_MANY]
    assert counts() == before


def test_the_script_is_a_static_file_and_the_page_has_no_inline_script(signed_in):
    page = signed_in.get("/applications/new").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts, "the progressive enhancement is loaded"
    for attributes, body in scripts:
        assert 'src="/' in attributes and body.strip() == ""
    assert 'src="/static/application_members.js"' in page
    script = signed_in.get("/static/application_members.js")
    assert script.status_code == 200
    assert "add-member" in script.get_data(as_text=True)


def test_enter_in_a_field_registers_rather_than_removing_a_row(signed_in):
    """Browsers press a form's first submit button on Enter: it must be 'Register and submit'."""
    page = signed_in.get("/applications/new").get_data(as_text=True)
    form = page[page.index('<form method="post" class="card"'):]
    first = re.search(r'<button type="submit"[^>]*>', form).group(0)
    assert 'name="action" value="submit"' in first
