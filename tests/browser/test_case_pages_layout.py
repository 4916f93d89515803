"""The case pages fit the screen in a real Chromium: the queues (with the supervisor's counts), one case with its
actions and timeline, and the form that opens a case do not scroll sideways on a 390-pixel phone or a 1366-pixel
laptop, in Uzbek and in Russian. Set SRSP_SCREENSHOTS to a folder to keep a PNG of every page looked at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text

from modules.grievances import operations
from modules.grievances.schemas import CaseArgs
from tests import factories
from tests.browser.conftest import SCREENS, commit_and_let_go, overflow, sign_in
from webapp.extensions import db

pytestmark = pytest.mark.committed


LONG_NAME = "Abdurahmonova-Xudoyberdiyeva Gulchehraxon Muhammadaminjon qizi"
LONG_TEXT = ("Noyabr oyi uchun bolalar nafaqasi kelmadi, bank kartasi yopilgan deyishdi; "
             "BANKHISOBRAQAMI20208000900123456789001OZGARTIRILGANSANASI ") * 3


@pytest.fixture
def cases(live_app, live_server):
    """Committed: per language a national social worker with two cases (one with a long name and text, notes,
    a confidential note), and one unassigned case. Taken out afterwards (audit rows stay)."""
    made: list[int] = []
    try:
        users = {lang: factories.make_user("social_worker", national=True, language=lang) for lang in ("uz", "ru")}
        opener = factories.make_user("social_worker", areas=["UZ-TK"])  # national users name no area of their own
        for user in users.values():
            user.full_name = "Rustam Ijtimoiy-Xodimov"
            for category, kind in (("payment_not_received", "grievance"), ("decision_appeal", "appeal")):
                case = operations.open_case(CaseArgs().load({
                    "kind": kind, "category": category, "channel": "mahalla", "description": LONG_TEXT,
                    "complainant_name": LONG_NAME, "household_id": None}), opener)
                made.append(case.id)
                operations.assign(case, user, user)
                operations.add_event(case, "visit", LONG_TEXT, user)
                operations.add_event(case, "confidential_note", "Maxfiy: oilada kelishmovchilik", user)
        extra = operations.open_case(CaseArgs().load({"kind": "enquiry", "category": "payment_not_received",
                                                      "channel": "phone", "description": "Qachon?"}),
                                     opener)
        made.append(extra.id)
        usernames = {lang: user.username for lang, user in users.items()}
        commit_and_let_go()
        yield {"users": usernames, "case": made[0], "ru_case": made[2]}
    finally:
        db.session.rollback()
        ids = made or [-1]
        for table in ("case_event", "case"):
            column = "case_id" if table == "case_event" else "id"
            db.session.execute(text(f'DELETE FROM "{table}" WHERE {column} IN :ids')
                               .bindparams(bindparam("ids", expanding=True)), {"ids": ids})
        db.session.commit()


@pytest.mark.parametrize("language", ["uz", "ru"])
@pytest.mark.parametrize("screen", ["phone", "laptop"])
def test_the_case_pages_fit_the_screen(cases, live_server, browser, language, screen):
    context = browser.new_context(viewport=SCREENS[screen])
    page = context.new_page()
    sign_in(page, live_server, cases["users"][language])
    keep = os.environ.get("SRSP_SCREENSHOTS")
    case_id = cases["case"] if language == "uz" else cases["ru_case"]
    pages = {"queue": "/cases", "unassigned": "/cases?queue=area", "supervision": "/cases?queue=supervisor",
             "case": f"/cases/{case_id}", "new": "/cases/new"}
    try:
        for name, address in pages.items():
            page.goto(f"{live_server}{address}")
            assert page.locator("h1").count() == 1, address
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{keep}/cases-{name}-{screen}-{language}.png", full_page=True)
            measured = overflow(page)
            assert measured["scroll"] <= measured["inner"], (address, measured)
            assert measured["spill"] == [], (address, measured)
        page.goto(f"{live_server}/cases")
        assert page.locator("#cases tbody tr").count() == 2
    finally:
        context.close()
