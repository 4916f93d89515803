"""The payroll preparation form: it starts on the officer's own region (national officers choose), and a refused
preparation (a month with nothing due, a bad month) shows the reason above the form with what was chosen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from modules.payments.models import Payroll
from tests import factories
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import page_text as _text
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db
from webapp.models import Area, AreaLevel


def _region_options(page: str) -> list[tuple[str, bool]]:
    """[(value, selected)] of the preparation form's region picker."""
    select_html = re.search(r'<select id="prep-region"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [(value, bool(selected)) for value, selected in
            re.findall(r'<option value="([^"]*)"\s*(selected)?\s*>', select_html)]


def _selected(page: str) -> list[str]:
    return [value for value, selected in _region_options(page) if selected]


def _district_of(region_code: str) -> str:
    return db.session.scalar(select(Area.code).where(Area.level == AreaLevel.district,
                                                     Area.code.startswith(f"{region_code}-")).order_by(Area.code))


def test_the_form_starts_on_the_region_of_the_officers_first_area(app):
    officer = factories.make_user("finance_maker", areas=["UZ-SA", "UZ-TK"])
    db.session.commit()

    page = _text(_client(app, officer).get("/payrolls"))

    assert _region_options(page) == [("UZ-SA", True), ("UZ-TK", False)]  # no "choose" prompt


def test_a_district_area_does_not_make_its_region_the_default(app):
    # A district officer cannot prepare the whole region's payroll: the form starts on the region they may prepare.
    officer = factories.make_user("finance_maker", areas=[_district_of("UZ-SA"), "UZ-TK"])
    db.session.commit()
    assert _region_options(_text(_client(app, officer).get("/payrolls"))) == [("UZ-TK", True)]


def test_a_national_officer_is_asked_to_choose_the_region(app):
    officer = factories.make_user("finance_maker", national=True)
    db.session.commit()

    page = _text(_client(app, officer).get("/payrolls"))

    options = _region_options(page)
    assert options[0] == ("", True) and len(options) > 2
    assert _selected(page) == [""]
    assert '<option value="" selected>Choose a region</option>' in page


def _prepare(client, **form):
    data = {"programme": "child_allowance", "region": "UZ-TK", "period": PERIOD, **form, "csrf_token": client.csrf}
    return client.post("/payrolls/prepare", data=data)


def _flashed_errors(page: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="flash error"[^>]*>(.*?)</', page, re.S)]


def test_preparing_a_month_with_nothing_due_shows_the_refusal_and_creates_nothing(app):
    officer = factories.make_user("finance_maker", national=True)
    db.session.commit()  # no enrolment anywhere: nothing is due
    client = _client(app, officer)

    response = _prepare(client, region="UZ-SA")

    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert len(_flashed_errors(page)) == 1 and _flashed_errors(page)[0]
    assert _selected(page) == ["UZ-SA"] and f'id="prep-period" name="period" value="{PERIOD}"' in page
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payroll)) == 0


@pytest.mark.parametrize(("form", "message", "region"), [
    ({"region": "UZ-TK", "period": "2026-13"}, "2026-13 is not a month", "UZ-TK"),
    ({"region": ""}, "Choose a region you work in.", "UZ-SA"),  # none chosen: back to the officer's own
])
def test_a_refused_preparation_shows_the_form_with_what_was_chosen(app, form, message, region):
    officer = factories.make_user("finance_maker", areas=["UZ-TK", "UZ-SA"])
    db.session.commit()
    client = _client(app, officer)

    response = _prepare(client, **form)

    assert response.status_code == 302 and response.headers["Location"].endswith("#prepare")
    page = _text(client.get(response.headers["Location"]))
    assert message in page
    assert _selected(page) == [region]
    assert f'name="period" value="{form.get("period", PERIOD)}"' in page
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payroll)) == 0
