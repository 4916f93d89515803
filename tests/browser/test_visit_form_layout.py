"""The household visit form in a real Chromium on a 390-pixel phone, in Uzbek: nothing scrolls sideways, the fields
take the phone's width, the date is today's, and a visit is saved with a photo from the camera input.
Set SRSP_SCREENSHOTS to a folder to keep a PNG of the form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from modules.grievances.models import HouseholdVisit
from tests import factories
from tests.browser.conftest import commit_and_let_go, go, sign_in
from webapp.extensions import db
from webapp.timeutil import local_today

pytestmark = pytest.mark.committed

PHONE = {"width": 390, "height": 844}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


@pytest.fixture
def household(live_app, live_server):
    """Committed: a Brauzerov family in Tashkent and a Uzbek-speaking social worker of the region."""
    worker = factories.make_user("social_worker", areas=["UZ-TK"], language="uz")
    family = factories.make_family("UZ-TK", children=1)
    for person in [family["head"], family["spouse"], *family["children"]]:
        person.last_name = "Brauzerov" + ("a" if person.sex.value == "F" else "")
    found = {"username": worker.username, "id": family["household"].id}
    commit_and_let_go()
    try:
        yield found
    finally:
        db.session.rollback()
        db.session.execute(delete(HouseholdVisit).where(HouseholdVisit.household_id == found["id"]))
        db.session.commit()


def test_the_visit_form_fits_a_phone_and_saves_a_visit_with_a_photo(household, live_server, browser, tmp_path):
    context = browser.new_context(viewport=PHONE, locale="uz")
    page = context.new_page()
    try:
        sign_in(page, live_server, household["username"])
        page.goto(f"{live_server}/households/{household['id']}/visits/new")
        assert page.locator("h1").count() == 1
        keep = os.environ.get("SRSP_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{keep}/visit-form-phone-uz.png", full_page=True)
        width = page.evaluate("() => ({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})")
        assert width["scroll"] <= width["inner"], width
        form_width = page.locator("#visit-form").bounding_box()["width"]
        for field in ("#visited_on", "#met", "#findings", "#fact-0"):
            assert page.locator(field).bounding_box()["width"] >= form_width * 0.8, field
        assert page.locator("button[type=submit].primary").bounding_box()["height"] >= 44
        assert page.input_value("#visited_on") == local_today().isoformat()
        page.fill("#met", "Brauzerova Nodira")
        page.fill("#findings", "Oila uyda yashaydi.")
        page.fill("#fact-0", "Uyda 4 kishi yashaydi")
        photo = tmp_path / "uy.jpg"
        photo.write_bytes(JPEG)
        page.set_input_files("#photo", str(photo))
        go(page, "button[type=submit].primary")
        assert page.url.endswith(f"/households/{household['id']}")
        assert page.locator(".visit").count() == 1
    finally:
        context.close()
    db.session.expire_all()
    visit = db.session.scalar(select(HouseholdVisit).where(HouseholdVisit.household_id == household["id"]))
    assert visit is not None and visit.attachment_mime == "image/jpeg"
