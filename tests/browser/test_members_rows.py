"""The member rows of the application form in a real Chromium: with the script, "Add a member" and "Remove" change
the rows in place; without it (JavaScript off), they post the form back and it returns with every row kept. Either
way a six-person family is registered."""

from __future__ import annotations

import os

import pytest

from tests import factories
from tests.browser.conftest import commit_and_let_go, go, sign_in

pytestmark = pytest.mark.committed


def six_person_family(suffix: str):
    registrar = factories.make_user("registrar", areas=["UZ-XO"], username=f"reg-rows-{suffix}")
    family = factories.make_family("UZ-XO", children=4)
    for person in [family["head"], family["spouse"], *family["children"]]:
        person.last_name = "Brauzerov" + ("a" if person.sex.value == "F" else "")
    members = [(family["spouse"].pin, "spouse")] + [(child.pin, "child") for child in family["children"]]
    return registrar.username, family["head"].pin, members


def pins(page) -> list[str]:
    return page.eval_on_selector_all("input[name=member_pin]", "inputs => inputs.map(i => i.value)")


def ids(page) -> list[str]:
    return page.eval_on_selector_all("input[name=member_pin]", "inputs => inputs.map(i => i.id)")


def fill_applicant(page, head: str) -> None:
    page.fill("#applicant_pin", head)
    page.fill("#phone", "90 123 45 67")
    page.check("input[name=programmes][value=child_allowance]")


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_a_six_person_family_is_entered_with_add_and_remove(live_server, browser, tmp_path, javascript):
    suffix = f"{os.getpid()}{tmp_path.name[-6:]}{int(javascript)}"
    username, head, members = six_person_family(suffix)
    commit_and_let_go()

    context = browser.new_context(locale="en-GB", java_script_enabled=javascript)
    page = context.new_page()
    sign_in(page, live_server, username)
    page.goto(f"{live_server}/applications/new")
    assert len(pins(page)) == 4
    fill_applicant(page, head)
    for index, (pin, relation) in enumerate(members[:4]):
        page.fill(f"#member_pin_{index}", pin)
        page.select_option(f"#member_relation_{index}", relation)
    page.evaluate("window.stayed = true")

    add = page.locator("button.add-member")
    if javascript:
        add.click()
        assert page.evaluate("window.stayed === true"), "the script adds the row without reloading the page"
    else:
        go(page, add)
    assert ids(page) == [f"member_pin_{i}" for i in range(5)]
    assert pins(page) == [pin for pin, _ in members[:4]] + [""]
    assert page.input_value("#applicant_pin") == head  # the rest of the form is kept too
    page.fill("#member_pin_4", members[4][0])
    page.select_option("#member_relation_4", members[4][1])

    # A mistaken extra row, taken out again: the rows after it move up and keep what was typed.
    (add.click() if javascript else go(page, add))
    page.fill("#member_pin_5", "12345678901234")
    remove = page.locator("button.remove-member").nth(5)
    (remove.click() if javascript else go(page, remove))
    assert pins(page) == [pin for pin, _ in members]
    assert ids(page) == [f"member_pin_{i}" for i in range(5)]
    assert page.locator("label[for=member_pin_4]").inner_text().endswith("5")

    go(page, "button.primary[value=submit]")
    assert "registered; decision due by" in page.locator(".flash").inner_text()
    assert all(pin in page.content() for pin, _ in members)
    context.close()
