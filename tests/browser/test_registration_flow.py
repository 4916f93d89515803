"""A registrar, as a person would: sign in, register a family, find it, read its timeline; another region's
registrar cannot open it. Runs in a real Chromium against a live server."""

from __future__ import annotations

import os

import pytest

from tests import factories
from tests.browser.conftest import commit_and_let_go, sign_in

pytestmark = pytest.mark.committed


def test_registrar_registers_a_family_and_another_region_cannot_open_it(live_server, browser, tmp_path):
    suffix = f"{os.getpid()}{tmp_path.name[-6:]}"
    registrar = factories.make_user("registrar", areas=["UZ-XO"], username=f"reg-xo-{suffix}")
    other = factories.make_user("registrar", areas=["UZ-SA"], username=f"reg-sa-{suffix}")
    family = factories.make_family("UZ-XO", children=2)
    for person in [family["head"], family["spouse"], *family["children"]]:
        person.last_name = "Brauzerov" + ("a" if person.sex.value == "F" else "")
    head, spouse = family["head"].pin, family["spouse"].pin
    children = [child.pin for child in family["children"]]
    registrar, other = registrar.username, other.username
    commit_and_let_go()

    context = browser.new_context(locale="en-GB", viewport={"width": 1024, "height": 700})
    page = context.new_page()
    sign_in(page, live_server, registrar)
    assert page.locator("h1").inner_text() == "Applications"

    page.click("text=New application")
    page.fill("#applicant_pin", head)
    page.fill("#phone", "90 123 45 67")
    page.fill("#member_pin_0", spouse)
    page.select_option("#member_relation_0", "spouse")
    for index, child in enumerate(children, start=1):
        page.fill(f"#member_pin_{index}", child)
        page.select_option(f"#member_relation_{index}", "child")
    page.check("input[name=programmes][value=child_allowance]")
    page.select_option("#channel", "mahalla")
    page.click("button.primary[value=submit]")

    assert "registered; decision due by" in page.locator(".flash").inner_text()
    heading = page.locator("h1").inner_text()
    reference = heading.split()[1]
    detail_url = page.url
    timeline = page.locator("ol.timeline").inner_text()
    assert "Draft" in timeline and "Submitted" in timeline
    page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)

    page.click("nav >> text=Applications")
    page.fill("#q", spouse)
    page.click("text=Filter")
    assert page.locator("table.list tbody tr").count() == 1
    assert reference in page.locator("table.list").inner_text()

    intruder = browser.new_context(locale="en-GB").new_page()
    sign_in(intruder, live_server, other)
    response = intruder.goto(detail_url)
    assert response.status == 404
    assert head not in intruder.content()
    context.close()


def test_the_form_keeps_what_was_typed_and_explains_each_error(live_server, browser, tmp_path):
    suffix = f"{os.getpid()}{tmp_path.name[-6:]}"
    registrar = factories.make_user("registrar", areas=["UZ-XO"], username=f"reg-xo2-{suffix}").username
    commit_and_let_go()
    page = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 800}).new_page()  # a phone
    sign_in(page, live_server, registrar)
    page.goto(f"{live_server}/applications/new")
    page.fill("#applicant_pin", "1234567890123")
    page.fill("#phone", "12")
    page.click("button.primary[value=submit]")
    assert page.locator(".flash.error").is_visible()
    errors = page.locator("ul.errors").all_inner_texts()
    assert "A PIN has exactly 14 digits." in errors
    assert "Enter a mobile number as +998 XX XXX XX XX." in errors
    assert "Choose at least one programme." in errors
    assert page.input_value("#applicant_pin") == "1234567890123"
