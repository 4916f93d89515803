"""The escalation run's work grows with the breached cases only by what each must write: it neither reads every
case's timeline nor looks the supervisor up again for each case of the same region."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from modules.grievances import operations
from tests import factories
from webapp.extensions import db
from webapp.models import Role, User
from webapp.timeutil import local_today


def test_escalating_many_cases_reads_no_timeline_and_finds_the_supervisor_once(app):
    worker = factories.make_user("social_worker", areas=["UZ-TK"])
    factories.make_user("social_worker", areas=["UZ-TK"])  # a supervisor of the region besides the worker
    cases = [operations.open_case({"kind": "grievance", "category": "payment_not_received", "channel": "phone",
                                   "description": f"Payment {n} did not arrive."}, worker) for n in range(6)]
    for case in cases:
        case.due_date = local_today() - timedelta(days=2)
    db.session.flush()
    db.session.expire_all()  # as in the job: the cases come fresh from the database, their timelines not loaded
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert operations.escalate_breached(local_today()) == 6
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.startswith("SELECT")]
    assert not [s for s in selects if "FROM case_event" in s]
    assert len([s for s in selects if "JOIN user_area" in s]) == 1
    # Whoever the region's supervisor is (data other tests committed may hold an older one): a social worker of
    # the region.
    supervisors = {db.session.get(User, case.escalated_to_id) for case in cases}
    assert all(user.role is Role.social_worker and "UZ-TK" in {area.code for area in user.areas}
               for user in supervisors)
    assert all(case.escalated_at is not None for case in cases)
