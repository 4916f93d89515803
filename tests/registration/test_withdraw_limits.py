"""A withdrawal's reason is bounded: a reason longer than REASON_MAX characters is refused and stores nothing."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from modules.registration.models import Application, ApplicationEvent
from modules.registration.schemas import REASON_MAX, WithdrawArgs
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import S, commit, counts, register
from webapp.extensions import db

TOO_LONG = f"Keep the reason to {REASON_MAX} characters or fewer."


@pytest.fixture
def staff(client, tk_registrar):
    return sign_in(client, tk_registrar)


@pytest.fixture
def application(tk_registrar):
    application = register(factories.application_payload(factories.make_family("UZ-TK", children=0)), tk_registrar)
    commit()
    return application


def withdraw(client, application, reason: str):
    return client.post(f"/applications/{application.id}/withdraw", data={"csrf_token": client.csrf, "reason": reason})


def page(client, application) -> str:
    return html.unescape(client.get(f"/applications/{application.id}").get_data(as_text=True))


def test_the_bound_is_a_sensible_length():
    assert 200 <= REASON_MAX <= 2000


def test_a_reason_longer_than_the_bound_is_refused_and_nothing_is_stored(staff, application):
    before = counts()
    response = withdraw(staff, application, "x" * (REASON_MAX + 1))
    assert response.status_code == 302
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Application, application.id).status is S.submitted
    assert TOO_LONG in page(staff, application)


def test_a_megabyte_of_reason_is_refused(staff, application):
    before = counts()
    withdraw(staff, application, "x" * 1_000_000)
    assert counts() == before
    longest = db.session.scalar(select(db.func.max(db.func.length(ApplicationEvent.note))))
    assert (longest or 0) <= REASON_MAX


def test_a_reason_of_exactly_the_bound_is_accepted(staff, application):
    reason = "y" * REASON_MAX
    response = withdraw(staff, application, f"  {reason}  ")  # the spaces around do not count
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, application.id).status is S.withdrawn
    note = db.session.scalar(select(ApplicationEvent.note).where(ApplicationEvent.application_id == application.id,
                                                                 ApplicationEvent.to_status == "withdrawn"))
    assert note == reason


def test_the_page_bounds_the_field(staff, application):
    assert f'name="reason" maxlength="{REASON_MAX}"' in page(staff, application)


def test_the_schema_says_what_is_wrong():
    assert WithdrawArgs().validate({"reason": "z" * (REASON_MAX + 1)}) == {"reason": [TOO_LONG]}
    assert WithdrawArgs().load({"reason": " moved "}) == {"reason": "moved"}
