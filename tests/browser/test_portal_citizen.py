"""Citizens on a 390-pixel phone, in Uzbek and in Russian, in a real Chromium against a live server.

One citizen signs in with a PIN, the phone on file and the code the SMS carried, applies for the family the
population register proposes, and is refused at once (the registries, the simulator over real HTTP, report a
salary far above the threshold): the decision page names the failed criterion with its values. The citizen appeals
in one step and reads the request's tracking number and due date.

Another citizen, whose household receives assistance, downloads the certificate; the public check reads the PDF and
says it is valid. Once the household's enrolments end, the same check says it is revoked, and so does an offline
check against the key set and the status list saved from the server.

Every page says its language, shows no English interface word, does not scroll sideways (at 320 pixels either, for
home and apply) and has no serious or critical axe-core finding. Set SRSP_SCREENSHOTS to a folder to keep PNGs of
home, apply, the decision, the request and the check, at 390 and 1366 pixels."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from babel.support import Translations
from sqlalchemy import insert, select

import webapp
from connectors.simulator import store
from modules.enrolment import operations as enrolment_operations
from modules.enrolment.certificates import credential
from modules.enrolment.certificates import operations as certificates
from modules.enrolment.models import Enrolment, EnrolmentStatus
from tests import factories
from tests.browser.conftest import SCREENS, commit_and_let_go, go, overflow, take_out_households
from tests.connectors.simulator import serving_simulator
from webapp.extensions import db
from webapp.models import Notification
from webapp.timeutil import local_today

pytestmark = pytest.mark.committed

PHONE = SCREENS["phone"]
NARROW = {"width": 320, "height": 700}
TRANSLATIONS = Path(webapp.__file__).parent / "translations"
SALARY = 6_000_000  # a month, each parent: the family's income per head is far above any threshold

# Words of the portal's interface: none may be seen in English once the catalogue translates it (the check follows
# the catalogue, so strings translated later are checked from then on), and no code may be seen raw.
LABELS = ["Social assistance", "Language", "Change", "Sign in", "Sign out", "Check a certificate", "Staff sign-in",
          "PIN (14 digits)", "Mobile phone number", "Send me a code", "Enter the code", "Code from the SMS",
          "No SMS? Ask for a new code", "Apply for assistance", "Your applications", "Applicant", "Your family",
          "Relation to you", "Add a family member", "Programmes", "Mobile phone for SMS about your application",
          "Language of the SMS", "The data we request about your family", "Legal basis:",
          "Send the application", "What has happened", "The decision", "What the registers showed:",
          "Criteria met", "Appeal this decision", "Your appeals and complaints", "Back to your page",
          "What is wrong", "Send", "Back to the application", "Tracking number", "Status", "Answer due by",
          "Progress", "Low-income certificate", "Download the certificate (PDF)",
          "Check a low-income certificate", "Text of the QR code", "Or the certificate's PDF file", "Check",
          "Serial number", "Head of household", "Valid", "public keys", "revocation list",
          "spouse", "child", "parent", "other"]
CODES = ["child_allowance", "decision_appeal", "appeal", "submitted", "decided", "ineligible", "per_capita_income"]


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


def _said(language: str, msgid: str) -> str:
    return Translations.load(str(TRANSLATIONS), [language]).gettext(msgid)


def _fits(page) -> None:
    measured = overflow(page)
    assert measured["scroll"] <= measured["inner"], (page.url, measured)
    assert measured["spill"] == [], (page.url, measured)


def _accessible(page) -> None:
    """No serious or critical axe-core finding."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response.get("violations", [])
    grave = [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
              "where": [node["target"] for node in v["nodes"]][:5]}
             for v in found if v.get("impact") in ("serious", "critical")]
    assert grave == [], (page.url, grave)


def _keep(page, name: str, language: str) -> None:
    """A PNG of the page at 390 and at 1366 pixels, when SRSP_SCREENSHOTS names a folder."""
    folder = os.environ.get("SRSP_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=f"{folder}/{name}-390-{language}.png", full_page=True)
    page.set_viewport_size(SCREENS["laptop"])
    _fits(page)
    page.screenshot(path=f"{folder}/{name}-1366-{language}.png", full_page=True)
    page.set_viewport_size(PHONE)


def _checked(page, language: str, name: str | None = None, narrow: bool = False) -> None:
    """Every check a portal page gets; `narrow` also at 320 pixels; `name` keeps screenshots."""
    _speaks(page, language)
    _fits(page)
    _accessible(page)
    if narrow:
        page.set_viewport_size(NARROW)
        _fits(page)
        page.set_viewport_size(PHONE)
    if name:
        _keep(page, name, language)


# --- set-up ------------------------------------------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path):
    """The registry simulator with its own store on a free port: (its store's URL, its base URL)."""
    url = f"sqlite:///{tmp_path / 'registries.db'}"
    with serving_simulator(url) as (_sim, base_url):
        yield url, base_url


def _months_before(day: date, count: int) -> list[str]:
    index = day.year * 12 + day.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count, index + 1)]


def _known_to_the_registries(store_url: str, family: dict, salary: int) -> None:
    """The family in the simulator's population register, the parents' salaries in its tax registry."""
    engine = store.engine_for(store_url)
    head = family["head"]
    people = [(head, "head"), (family["spouse"], "spouse"), *[(kid, "child") for kid in family["children"]]]
    mahalla = head.area.code
    with engine.begin() as conn:
        conn.execute(insert(store.household), [{"id": 1, "mahalla": mahalla, "address": "Test street 1",
                                                "urban": True}])
        conn.execute(insert(store.person), [
            {"pin": p.pin, "last_name": p.last_name, "first_name": p.first_name, "patronymic": None,
             "birth_date": p.birth_date, "sex": p.sex.value, "death_date": None, "phone": None,
             "mahalla": mahalla, "address": "Test street 1", "father_pin": None, "mother_pin": None}
            for p, _relation in people])
        conn.execute(insert(store.family_link), [
            {"pin": p.pin, "related_pin": head.pin, "relation": relation, "household_id": 1}
            for p, relation in people])
        conn.execute(insert(store.income), [
            {"pin": p.pin, "source": "salary", "month": month, "amount": salary}
            for p, relation in people if relation in ("head", "spouse") for month in _months_before(local_today(), 24)])
    engine.dispose()


def _named(family: dict, names: list[str]) -> None:
    for person, first in zip([family["head"], family["spouse"], *family["children"]], names, strict=True):
        person.first_name = first
        person.last_name = "Brauzerov" + ("a" if person.sex.value == "F" else "")


@pytest.fixture
def citizens(live_app, live_server, simulator, tmp_path):
    """Committed: an applicant's family the registries know (the parents earn far too much), and a household
    assessed eligible and enrolled, each head with a phone on file. Everything is taken out afterwards (audit
    rows stay)."""
    store_url, base_url = simulator
    live_app.config.update(SOURCES_URL=base_url, COLLECTION_BACKOFF=0.01, COLLECT_ON_SUBMIT=True,
                           CERTIFICATE_BASE_URL=live_server, SOURCES={"*": {
                               "timeout": 2, "retry": {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02},
                               "cache": {"ttl": 0}}})
    live_app.extensions.pop("srsp_connectors", None)
    serial = (os.getpid() * 7919 + int(re.sub(r"\D", "", tmp_path.name) or 0)) % 10 ** 6
    made: dict = {"households": [], "persons": []}
    try:
        applicant = factories.make_family("UZ-TK", children=2)
        _named(applicant, ["Jasur", "Nodira", "Bobur", "Malika"])
        applicant["head"].phone = f"+99890{serial:06d}1"
        certified = factories.make_family("UZ-TK", children=2)
        _named(certified, ["Sardor", "Gulnora", "Aziz", "Zarina"])
        certified["head"].phone = f"+99891{serial:06d}2"
        for family in (applicant, certified):
            made["households"].append(family["household"].id)
            made["persons"] += [p.id for p in (family["head"], family["spouse"], *family["children"])]
        decided = factories.household_decided(300_000, datetime.now(UTC) - timedelta(days=3), family=certified)
        assert certificates.active_enrolments(decided.household_id), "the certified household is not enrolled"
        _known_to_the_registries(store_url, applicant, SALARY)
        found = {
            "applicant": {"pin": applicant["head"].pin, "phone": applicant["head"].phone,
                          "members": [p.full_name for p in (applicant["spouse"], *applicant["children"])],
                          "household": applicant["household"].id},
            "certified": {"pin": certified["head"].pin, "phone": certified["head"].phone,
                          "household": certified["household"].id}}
        commit_and_let_go()
        yield found
    finally:
        _take_out(made)
        live_app.extensions.pop("srsp_connectors", None)


def _take_out(made: dict) -> None:
    """Delete what the test committed (the households, their people and everything about them)."""
    if not made["households"]:
        db.session.rollback()
        return
    take_out_households(made["households"], made["persons"])


# --- the steps ---------------------------------------------------------------------------------------------------


def _sms_code(phone: str) -> str:
    """The code of the last sign-in SMS sent to `phone`, read from the outbox."""
    db.session.expire_all()
    body = db.session.scalar(select(Notification.body).where(
        Notification.to == phone, Notification.dedupe_key.like("portal-sign-in:%")).order_by(Notification.id.desc()))
    db.session.close()  # no transaction left open: on SQLite it would lock the server out
    assert body, f"no sign-in SMS to {phone}"
    return re.search(r"\b(\d{6})\b", body).group(1)


def _signs_in(page, base_url: str, who: dict, language: str) -> None:
    page.goto(f"{base_url}/portal/sign-in")
    _checked(page, language)
    page.fill("#pin", who["pin"])
    page.fill("#phone", who["phone"])
    go(page, "form.card button[type=submit].primary")
    assert page.url == f"{base_url}/portal/sign-in/code"
    _checked(page, language)
    page.fill("#code", _sms_code(who["phone"]))
    go(page, "form.card button[type=submit].primary")
    assert page.url == f"{base_url}/portal/"


@pytest.mark.parametrize("language", ["uz", "ru"])
def test_a_citizen_applies_is_refused_with_the_reason_and_appeals_and_another_checks_a_certificate(
        citizens, live_server, browser, tmp_path, language):
    context = browser.new_context(viewport=PHONE, locale=language, accept_downloads=True)
    page = context.new_page()
    try:
        # Sign-in: PIN and the phone on file, then the code the SMS carried.
        who = citizens["applicant"]
        _signs_in(page, live_server, who, language)
        _checked(page, language, "home", narrow=True)

        # The application: the family proposed from the register, consent, sent.
        go(page, "a.button.primary[href='/portal/apply']")
        proposed = page.locator("fieldset .member label.check").all_inner_texts()
        for name in who["members"]:
            assert any(name in row for row in proposed), (name, proposed)
        _checked(page, language, "apply", narrow=True)
        page.check("input[name=programmes][value=child_allowance]")
        page.check("input[name=consent]")
        go(page, "form button[type=submit].primary")

        # The decision at once, with the reason in words: the criterion that failed and what the registers showed.
        assert re.fullmatch(rf"{live_server}/portal/applications/\d+", page.url), page.url
        decision = page.locator("section.card", has=page.locator("p.bad"))
        assert decision.count() == 1, page.locator("main").inner_text()
        reasons = decision.locator("ul > li")
        assert reasons.count() >= 1
        reason = reasons.first.inner_text()
        assert re.search(r"\d[\d\s\u00a0]{3,}", reason), reason  # the values the registers gave
        _checked(page, language, "decision")

        # The appeal in one step: a tracking number and the date the answer is due.
        go(page, decision.locator("a.button"))
        _checked(page, language)
        page.fill("#description", "Ish haqim bundan kam, ikki oydan beri ishlamayman.")
        go(page, "main form button[type=submit].primary")
        assert re.fullmatch(rf"{live_server}/portal/cases/\d+", page.url), page.url
        facts = page.locator("dl.facts dd").all_inner_texts()
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9-]{5,}", facts[0].strip()), facts
        due = datetime.strptime(facts[2].strip(), "%d.%m.%Y").date()
        assert due > local_today()
        _checked(page, language, "case")
        go(page, "footer button.link")  # sign out

        # The second citizen: the certificate from the home page, checked on the public page.
        context.clear_cookies()
        holder = citizens["certified"]
        _signs_in(page, live_server, holder, language)
        _checked(page, language)
        with page.expect_download() as downloading:
            page.click("a[href='/portal/certificate']")
        pdf = tmp_path / f"certificate-{language}.pdf"
        downloading.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF-")
        token = certificates.credential_from_pdf(pdf.read_bytes())
        assert token and credential.extract(token) == token

        page.goto(f"{live_server}/verify")
        _checked(page, language)
        page.set_input_files("#file", str(pdf))
        go(page, "main form button[type=submit].primary")
        assert page.locator("section.card h2.ok").inner_text() == _said(
            language, "Valid: this certificate is genuine and in force.")
        _checked(page, language, "verify")

        # The household's enrolments end: the check says revoked, and so does an offline one with saved files.
        for enrolment in db.session.scalars(select(Enrolment).where(
                Enrolment.household_id == holder["household"], Enrolment.status == EnrolmentStatus.active)):
            enrolment_operations.end(enrolment, "Oila boshqa viloyatga ko'chib ketdi")
        commit_and_let_go()
        page.goto(f"{live_server}/verify")
        page.fill("#credential", token)
        go(page, "main form button[type=submit].primary")
        assert page.locator("section.card h2.bad").inner_text() == _said(
            language, "Revoked: the issuer has withdrawn this certificate. Ask the household for a current one.")
        assert page.locator("section.card dl.facts").count() == 1  # what it was: the serial and the name
        _checked(page, language, "verify-revoked")

        claimed = json.loads(_unpadded(token.split(".")[1]))["credentialStatus"]["statusListCredential"]
        listed, keys = page.request.get(claimed), page.request.get(f"{live_server}/.well-known/jwks.json")
        assert listed.ok and keys.ok
        (tmp_path / "status.jwt").write_text(listed.text())
        (tmp_path / "jwks.json").write_text(keys.text())
        offline = credential.verify(token, json.loads((tmp_path / "jwks.json").read_text()),
                                    {"*": (tmp_path / "status.jwt").read_text()})
        assert offline.status == "revoked" and offline.status_checked
    finally:
        context.close()


def _unpadded(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
