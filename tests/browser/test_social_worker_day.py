"""A social worker's day on a 390-pixel phone, in Uzbek, in a real Chromium against a live server: "My cases", one
case about a household receiving benefits, a household visit with a photo, a birth recorded as a change of
circumstances (the household before and after shown first), the new assessment beside the old one with what
confirming does, and the confirmation: the newborn is a member, receives the child allowance, and the family is
told by SMS. The registries are the simulator over real HTTP; it does not know the newborn, so every source
answers "not found" about it, and the others' answers on file are carried over.

The same pages are also looked at by a Russian-speaking colleague and on a 1366-pixel laptop: none scrolls
sideways. Set SRSP_SCREENSHOTS to a folder to keep a PNG of the change form's preview and of the re-assessment."""

from __future__ import annotations

import os
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.support import Translations
from sqlalchemy import select

import webapp
from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.grievances import operations
from modules.grievances.models import HouseholdVisit
from modules.registration.models import HouseholdMember
from tests import factories
from tests.browser.conftest import SCREENS, commit_and_let_go, go, overflow, sign_in, take_out_households
from tests.connectors.simulator import serving_simulator
from webapp.extensions import db
from webapp.models import Notification
from webapp.timeutil import local_today

pytestmark = pytest.mark.committed

PHONE = SCREENS["phone"]
TRANSLATIONS = Path(webapp.__file__).parent / "translations"

# Words of these pages' interface: none may be seen in English once the catalogue translates it (the check follows
# the catalogue, so strings translated later are checked from then on), and no code may be seen raw.
LABELS = ["Cases", "My cases", "Unassigned in my area", "Open a case", "Tracking number", "Category", "Applicant",
          "Status", "Due", "Assignee", "Kind", "Area", "Household", "Household profile", "Opened", "Description",
          "Actions", "Add to the timeline", "Add", "Change status", "Case history", "Record a visit",
          "Date of the visit", "Who was met", "What you found", "Facts checked", "Is it so?", "Confirmed",
          "Contradicted", "Note", "Photo or document", "Take a photo", "or attach a file", "Save the visit",
          "Re-assessment", "Record a change of circumstances", "What changed", "Choose", "Date of the change",
          "Show what will change", "Check before saving", "The household now", "After the change",
          "Save the change and re-assess", "Change something", "Back to the case", "Birth", "Child", "Spouse",
          "Head of the household", "Waiting for confirmation", "Assessed as of", "Before", "After", "Eligible",
          "What confirming does", "Confirm", "Discard", "Benefits recalculated", "Sign out"]
CODES = ["child_allowance", "in_progress", "update", "moved_in", "moved_out", "decision_appeal"]


def _png() -> bytes:
    """A 1×1 grey PNG: the smallest photo a phone could send."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


@pytest.fixture
def simulator(tmp_path):
    """The registry simulator with its own empty store on a free port: it knows no one."""
    with serving_simulator(f"sqlite:///{tmp_path / 'registries.db'}") as served:
        yield served


@pytest.fixture
def day(live_app, live_server, simulator):
    """Committed: a Tashkent household assessed eligible (its children enrolled, every registry's answer about its
    members on file), a newborn in the population register, an update case about the household assigned to a
    Uzbek-speaking social worker, and a Russian-speaking colleague. Everything is taken out afterwards (audit rows
    stay)."""
    _sim, base_url = simulator
    live_app.config.update(SOURCES_URL=base_url, COLLECTION_BACKOFF=0.01, SOURCES={"*": {
        "timeout": 2, "retry": {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02}, "cache": {"ttl": 0}}})
    live_app.extensions.pop("srsp_connectors", None)
    made: dict = {}
    try:
        worker = factories.make_user("social_worker", areas=["UZ-TK"], language="uz")
        colleague = factories.make_user("social_worker", areas=["UZ-TK"], language="ru")
        worker.full_name, colleague.full_name = "Dilnoza Ijtimoiy-Xodimova", "Rustam Ijtimoiy-Xodimov"
        family = factories.make_family("UZ-TK", children=2)
        for person, first in zip([family["head"], family["spouse"], *family["children"]],
                                 ["Jasur", "Nodira", "Bobur", "Malika"], strict=True):
            person.first_name = first
            person.last_name = "Brauzerov" + ("a" if person.sex.value == "F" else "")
        previous = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC), family=family)
        made["household"] = previous.household_id
        factories.evidence_on_file(previous.application)
        born = local_today() - timedelta(days=12)
        newborn = factories.make_person("UZ-TK", born, "F", first_name="Oysha", last_name="Brauzerova")
        made["persons"] = [p.id for p in (family["head"], family["spouse"], *family["children"], newborn)]
        case = operations.open_case({"kind": "update", "category": "birth", "channel": "mahalla",
                                     "description": "Oilada qiz tug'ildi, ota-onasi nafaqa so'rayapti.",
                                     "application_id": previous.application_id, "phone": "+998 90 555 44 33"},
                                    worker)
        operations.assign(case, worker, worker)
        found = {"worker": worker.username, "colleague": colleague.username, "case": case.id,
                 "number": case.tracking_number, "household": previous.household_id, "newborn": newborn.id,
                 "newborn_pin": newborn.pin, "newborn_name": newborn.full_name, "born": born.isoformat()}
        commit_and_let_go()
        yield found
    finally:
        if "household" in made:
            _take_out(made)
        else:
            db.session.rollback()
        live_app.extensions.pop("srsp_connectors", None)


def _take_out(made: dict) -> None:
    """Delete what the day committed (the household, its people and everything about them)."""
    take_out_households([made["household"]], made["persons"])


def _speaks(page, language: str) -> None:
    """The page says it is in `language`, shows no interface word the catalogue translates in English, and no raw
    code."""
    assert page.locator("html").get_attribute("lang") == language, page.url
    shown = page.locator("body").inner_text()
    catalogue = Translations.load(str(TRANSLATIONS), [language])
    translated = [label for label in LABELS if catalogue.gettext(label) != label]
    for pending in sorted(set(LABELS) - set(translated), key=len, reverse=True):
        shown = shown.replace(pending, " ")  # not translated yet: a longer label must not count as a shorter one
    leaked = [word for word in translated + CODES if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", shown)]
    assert leaked == [], (page.url, leaked, shown)


def _fits(page) -> None:
    measured = overflow(page)
    assert measured["scroll"] <= measured["inner"], (page.url, measured)
    assert measured["spill"] == [], (page.url, measured)


def _keep(page, name: str) -> None:
    folder = os.environ.get("SRSP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def _fill_the_birth(page, day: dict) -> None:
    page.select_option("#kind-0", "birth")
    page.fill("#pin-0", day["newborn_pin"])
    page.select_option("#relation-0", "child")
    page.fill("#date-0", day["born"])


def _onlookers(browser, live_server, day: dict) -> list:
    """The pages as the Russian-speaking colleague sees them (phone and laptop) and as the worker sees them on a
    laptop: (name, language, page) each, signed in."""
    seen = []
    for name, language, username in (("laptop-uz", "uz", day["worker"]), ("phone-ru", "ru", day["colleague"]),
                                     ("laptop-ru", "ru", day["colleague"])):
        page = browser.new_context(viewport=SCREENS["laptop" if name.startswith("laptop") else "phone"],
                                   locale=language).new_page()
        sign_in(page, live_server, username)
        seen.append((name, language, page))
    return seen


def test_a_social_worker_visits_records_a_birth_and_confirms_the_new_assessment_on_a_phone(day, live_server,
                                                                                           browser, tmp_path):
    case_url = f"{live_server}/cases/{day['case']}"
    context = browser.new_context(viewport=PHONE, locale="uz")
    page = context.new_page()
    onlookers = _onlookers(browser, live_server, day)
    try:
        sign_in(page, live_server, day["worker"])
        page.goto(f"{live_server}/cases")
        _speaks(page, "uz")
        _fits(page)
        go(page, page.locator("#cases a", has_text=day["number"]))
        assert page.url == case_url
        _speaks(page, "uz")
        _fits(page)
        assert page.locator("#record-change").is_visible()

        # The visit, from the phone, with a photo from its camera.
        go(page, "a.record-visit")
        assert page.url == f"{live_server}/households/{day['household']}/visits/new?case={day['case']}"
        _speaks(page, "uz")
        _fits(page)
        page.fill("#met", "Brauzerova Nodira, onasi")
        page.fill("#findings", "Oila uyda yashaydi, chaqaloq onasi bilan uyda.")
        page.fill("#fact-0", "Oilada yangi tug'ilgan qiz bor")
        page.select_option("#confirmed-0", "yes")
        photo = tmp_path / "chaqaloq.png"
        photo.write_bytes(_png())
        page.set_input_files("#photo", str(photo))
        go(page, "#visit-form button[type=submit].primary")
        assert page.url == case_url
        assert page.locator("#visits p a").count() == 1

        # The birth: the household before and after is shown first, and nothing is written until it is saved.
        go(page, "#record-change")
        assert page.url == f"{case_url}/changes/new"
        _speaks(page, "uz")
        _fits(page)
        _keep(page, "change-form-phone-uz")
        _fill_the_birth(page, day)
        go(page, "#change-form button[value=preview]")
        before = page.locator("#preview .compare > div").nth(0).inner_text()
        after = page.locator("#preview .compare > div").nth(1).inner_text()
        assert day["newborn_name"] not in before and day["newborn_name"] in after
        assert before.count("Brauzerov") == 4 and after.count("Brauzerov") == 5
        assert day["newborn_name"] in page.locator("#preview > p").first.inner_text()  # the only one asked about
        _speaks(page, "uz")
        _fits(page)
        _keep(page, "change-preview-phone-uz")
        for name, language, other in onlookers:
            other.goto(f"{case_url}/changes/new")
            _fill_the_birth(other, day)
            go(other, "#change-form button[value=preview]")
            assert other.locator("#preview").is_visible()
            _speaks(other, language)
            _fits(other)
            _keep(other, f"change-preview-{name}")

        # Saved: the registries are asked about the newborn (the job runs with the request), the new assessment
        # waits beside the old one with what confirming would do.
        go(page, "#change-form button[value=confirm]")
        assert page.url == f"{case_url}#reassessment"
        assert page.locator(".flash.success").count() == 1
        section = page.locator("#reassessment")
        assert section.locator("#compare > div").count() == 2
        assert section.locator("#compare > div.eligible").count() == 2
        plan = section.locator("#plan").inner_text()
        assert day["newborn_name"] in plan
        assert section.locator("#confirm-reassessment button").is_visible()
        _speaks(page, "uz")
        _fits(page)
        _keep(page, "case-reassessment-phone-uz")
        for name, language, other in onlookers:
            other.goto(f"{case_url}#reassessment")
            assert other.locator("#plan").is_visible()
            _speaks(other, language)
            _fits(other)
            _keep(other, f"case-reassessment-{name}")

        go(page, "#confirm-reassessment button")
        assert page.url == f"{case_url}#reassessment"
        assert page.locator(".flash.success").count() == 1
        assert page.locator("#confirm-reassessment").count() == 0
        _speaks(page, "uz")
        _fits(page)
    finally:
        for _name, _language, other in onlookers:
            other.context.close()
        context.close()

    db.session.expire_all()
    member = db.session.scalar(select(HouseholdMember).where(HouseholdMember.person_id == day["newborn"]))
    assert member is not None and member.household_id == day["household"] and member.left_at is None
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.beneficiary_person_id == day["newborn"]))
    assert enrolment.status is EnrolmentStatus.active and enrolment.programme.code == "child_allowance"
    sms = db.session.scalars(select(Notification).where(
        Notification.dedupe_key.like(f"case:{day['case']}:reassessed:%"))).all()
    assert len(sms) == 1 and day["number"] in sms[0].body
    visit = db.session.scalar(select(HouseholdVisit).where(HouseholdVisit.household_id == day["household"]))
    assert visit.case_id == day["case"] and visit.attachment_mime == "image/png"
