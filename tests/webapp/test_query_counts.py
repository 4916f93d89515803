"""Staff pages run a fixed number of SQL statements, however many rows they show.

Each main page and the API's list is read with some data, then again after more rows of every kind were added
(and larger households, which the detail pages show): a page that loads a related row per row shown (an N+1)
runs more statements the second time. Every page also has
a ceiling, so a page that starts running many more statements than it does today fails here first.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from modules.grievances import operations as cases
from modules.grievances.models import Case
from modules.payments import generation
from modules.payments.models import Payroll
from modules.registration.models import Application
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db

# Statements per page with the data of `_add_rows` (twice): what the page ran when the ceiling was set, the
# savepoint, the signed-in user and the audit record included, plus two. A page that needs more after a change
# should say why before its ceiling moves.
CEILINGS = {
    "/applications": 14,
    "/applications/<id>": 24,
    "/households": 16,
    "/households/<id>": 24,
    "/cases": 7,
    "/cases/<id>": 16,
    "/payrolls": 11,
    "/payrolls/<id>": 22,
    "/notifications": 10,
    "/jobs": 6,
    "/admin/users": 8,
    "/admin/audit": 7,
    "/reports": 6,
    "/reports/<period>": 25,
    "/reports/adhoc": 13,
    "/api/v1/applications": 14,
    "/api/v1/applications/<id>": 14,
}
# Statements a page may add when it shows more rows: none; the slack covers a page that asks once more for a
# second page of results or a second month.
SLACK = 1
_districts = itertools.count()


@contextlib.contextmanager
def counted():
    """The statements run on the database while the block runs (a list, filled in as they are run)."""
    statements: list[str] = []

    def _count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _add_rows(households: int, period: str, staff: dict, children: int) -> None:
    """`households` decided and enrolled households of two parents and `children`, a case about each, and a
    payroll of `period` paying them."""
    for _ in range(households):
        district = f"UZ-TK-{next(_districts) % 11 + 1:02d}"  # each household in another mahalla
        assessment = factories.household_decided(300_000, datetime(2025, 11, 20, 8, tzinfo=UTC),
                                                 family=factories.make_family(district, children=children))
        cases.open_case({"kind": "update", "category": "birth", "channel": "mahalla", "description": "Qiz tug'ildi",
                         "application_id": assessment.application_id}, staff["social_worker"])
    generation.generate("child_allowance", "UZ-TK", period, staff["finance_maker"])
    factories.make_user("registrar", national=True)
    db.session.flush()


def _latest(model):
    return db.session.scalar(select(model).order_by(model.id.desc()).limit(1))


def _urls() -> dict[str, str]:
    """Each page's URL, a detail page showing the newest row of its kind."""
    application, case, payroll = _latest(Application), _latest(Case), _latest(Payroll)
    return {"/applications": "/applications", "/applications/<id>": f"/applications/{application.id}",
            "/households": "/households?q=Karimov", "/households/<id>": f"/households/{application.household_id}",
            "/cases": "/cases", "/cases/<id>": f"/cases/{case.id}",
            "/payrolls": "/payrolls", "/payrolls/<id>": f"/payrolls/{payroll.id}",
            "/notifications": "/notifications", "/jobs": "/jobs", "/admin/users": "/admin/users",
            "/admin/audit": "/admin/audit", "/reports": "/reports", "/reports/<period>": "/reports/2026-01",
            "/reports/adhoc": "/reports/adhoc", "/api/v1/applications": "/api/v1/applications",
            "/api/v1/applications/<id>": f"/api/v1/applications/{application.id}"}


def _count_pages(client, headers: dict) -> dict[str, int]:
    counts = {}
    for page, url in _urls().items():
        with counted() as statements:
            response = client.get(url, headers=headers if url.startswith("/api/") else None)
        assert response.status_code == 200, (url, response.status_code)
        counts[page] = len(statements)
    return counts


@pytest.fixture
def staff():
    users = {role: factories.make_user(role, national=True)
             for role in ("admin", "registrar", "social_worker", "finance_maker", "analyst")}
    factories.commit()
    return users


def test_pages_run_a_fixed_number_of_statements_however_many_rows_they_show(app, client, staff):
    from modules.reporting import operations as reporting

    _add_rows(2, "2026-01", staff, children=1)
    reporting.freeze("2026-01", staff["analyst"])
    headers = factories.bearer(staff["registrar"])
    sign_in(client, staff["admin"])
    few = _count_pages(client, headers)
    _add_rows(5, "2026-02", staff, children=4)
    factories.commit()
    many = _count_pages(client, headers)
    grown = {page: (few[page], many[page]) for page in few if many[page] > few[page] + SLACK}
    assert not grown, f"statements per page grow with the rows shown (N+1), (before, after): {grown}"
    over = {page: (count, CEILINGS[page]) for page, count in many.items() if count > CEILINGS[page]}
    assert not over, f"pages over their ceiling of statements, (count, ceiling): {over}"

