"""A live server on a free port and a real Chromium (Debian's, driven by Playwright) for the pages that matter."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import bindparam, delete, select, text
from werkzeug.serving import make_server

from modules.registration.models import Application, Household, HouseholdMember, Person
from tests import factories
from tests.conftest import base_config
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.programmes import load_programmes

CHROMIUM = os.environ.get("SRSP_BROWSER") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory, database_url) -> str:
    """PostgreSQL: the suite's database (its sequences never give an id twice). SQLite gives a deleted row's id to
    the next row, so the audit rows these committed tests leave would name the cases, households and applications
    of later tests: on SQLite the browser tests get a database of their own."""
    if not database_url.startswith("sqlite"):
        return database_url
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"
    app = create_app(base_config(tmp_path_factory.mktemp("browser-instance"), url))
    with app.app_context():
        upgrade()
        load_areas(mahallas_per_district=2)
        load_programmes()
        db.session.commit()
        db.session.remove()
    return url


@pytest.fixture
def live_app(tmp_path, browser_database_url):
    app = create_app(base_config(tmp_path, browser_database_url))
    with app.app_context():
        yield app
        _remove_committed_families()


def _remove_committed_families() -> None:
    """Browser tests commit for real; take their families back out so other tests start clean."""
    db.session.rollback()
    persons = select(Person.id).where(Person.last_name.like("Brauzerov%"))
    households = select(HouseholdMember.household_id).where(HouseholdMember.person_id.in_(persons))
    db.session.execute(delete(Application).where(Application.household_id.in_(households)))
    household_ids = db.session.scalars(households).all()
    db.session.execute(delete(HouseholdMember).where(HouseholdMember.household_id.in_(household_ids)))
    db.session.execute(delete(Household).where(Household.id.in_(household_ids)))
    db.session.execute(delete(Person).where(Person.last_name.like("Brauzerov%")))
    db.session.commit()


@pytest.fixture
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    if not CHROMIUM:
        pytest.skip("Chromium is not installed (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def commit_and_let_go() -> None:
    """Commit the set-up and keep no transaction open: on SQLite an open one would lock the server out."""
    db.session.commit()
    db.session.close()


def go(page, target) -> None:
    """Click a link or a form's button (a selector or a locator) and wait for the page it leads to (after a form's
    redirect), so that what is read next is the new page, not the old one."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()


def sign_in(page, base_url, username) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    go(page, "button[type=submit].primary")


# The two screens every page must fit: a phone and an old laptop.
SCREENS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}


def overflow(page) -> dict:
    """How wide the document is against the window, the widest element that sticks out (to say what broke), and the
    tables wider than the column they stand in."""
    return page.evaluate("""() => {
        const width = window.innerWidth;
        let culprit = null;
        for (const el of document.querySelectorAll('body *')) {
            const right = el.getBoundingClientRect().right;
            if (right > width + 0.5 && (!culprit || right > culprit.right)) {
                culprit = {right, tag: el.tagName, id: el.id, text: (el.innerText || '').slice(0, 60)};
            }
        }
        const spill = [...document.querySelectorAll('table')].filter(
            t => t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 0.5).map(t => t.id);
        return {scroll: document.scrollingElement.scrollWidth, inner: width, culprit, spill};
    }""")


def take_out_households(households: list[int], persons: list[int]) -> None:
    """Delete what a browser test committed about these households and people: their certificates, sign-in codes,
    cases (with timelines, re-assessments and SMS), visits, enrolments, applications (with their records,
    assessments, jobs and SMS), members and the people themselves. The audit trail keeps its rows."""
    db.session.rollback()
    run = db.session.execute

    def ids(sql: str, **params) -> list[int]:
        return [row[0] for row in run(text(sql).bindparams(*[bindparam(k, expanding=True) for k in params]),
                                      params)] or [-1]

    persons = persons or [-1]
    applications = ids("SELECT id FROM application WHERE household_id IN :h", h=households)
    cases = ids('SELECT id FROM "case" WHERE household_id IN :h OR application_id IN :a', h=households,
                a=applications)
    enrolments = ids("SELECT id FROM enrolment WHERE household_id IN :h", h=households)
    codes = ids("SELECT id FROM citizen_sign_in_code WHERE person_id IN :p", p=persons)
    statements = [
        ("DELETE FROM notification WHERE application_id IN :a", {"a": applications}),
        *[("DELETE FROM notification WHERE dedupe_key LIKE :k", {"k": f"case:{case}:%"}) for case in cases],
        *[("DELETE FROM notification WHERE dedupe_key = :k", {"k": f"portal-sign-in:{code}"}) for code in codes],
        ("DELETE FROM citizen_sign_in_code WHERE id IN :s", {"s": codes}),
        ("UPDATE certificate SET superseded_by_id = NULL WHERE household_id IN :h", {"h": households}),
        ("DELETE FROM certificate WHERE household_id IN :h", {"h": households}),
        ("DELETE FROM household_visit WHERE household_id IN :h", {"h": households}),
        ("DELETE FROM reassessment WHERE case_id IN :c", {"c": cases}),
        ("DELETE FROM case_event WHERE case_id IN :c", {"c": cases}),
        ('DELETE FROM "case" WHERE id IN :c', {"c": cases}),
        ("DELETE FROM enrolment_arrear WHERE enrolment_id IN :e", {"e": enrolments}),
        ("DELETE FROM payment_ledger WHERE enrolment_id IN :e", {"e": enrolments}),
        ("DELETE FROM enrolment WHERE id IN :e", {"e": enrolments}),
        ("DELETE FROM bank_account WHERE person_id IN :p", {"p": persons}),
        ("DELETE FROM job WHERE subject IN :s", {"s": [f"application:{a}" for a in applications]}),
        ("DELETE FROM application WHERE id IN :a", {"a": applications}),
        ("DELETE FROM household_member WHERE household_id IN :h", {"h": households}),
        ("DELETE FROM household WHERE id IN :h", {"h": households}),
        ("DELETE FROM person WHERE id IN :p", {"p": persons}),
    ]
    with factories.past_the_guards():
        for sql, params in statements:
            names = [name for name, value in params.items() if isinstance(value, list)]
            run(text(sql).bindparams(*[bindparam(name, expanding=True) for name in names]), params)
    db.session.commit()
