"""The demo social worker's cases: opened once, the grievance's intake SMS in the outbox."""

from __future__ import annotations

from sqlalchemy import func, select

from demo.cases import create_demo_cases
from demo.setup import create_demo_users
from modules.grievances.models import Case, CaseKind
from tests import factories
from webapp.extensions import db
from webapp.models import Notification, User


def test_demo_cases_are_opened_once_with_the_intake_sms(app):
    create_demo_users()
    factories.make_family("UZ-TK")
    assert create_demo_cases() == 3
    assert create_demo_cases() == 0
    social = db.session.scalar(select(User).where(User.username == "social"))
    cases = db.session.scalars(select(Case).where(Case.created_by_id == social.id).order_by(Case.id)).all()
    assert [case.kind for case in cases] == [CaseKind.grievance, CaseKind.enquiry, CaseKind.update]
    assert cases[0].assignee_id == social.id and cases[0].person_id is not None
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.dedupe_key == f"case:{cases[0].id}:intake")) == 1
