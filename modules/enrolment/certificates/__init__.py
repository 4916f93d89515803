"""Digital low-income certificates: a PDF with a QR code carrying a W3C Verifiable Credential (compact JWS, EdDSA),
the issuer's key set at /.well-known/jwks.json, a Bitstring Status List for revocation, and a public /verify page.

Certificates follow the household's circumstances without anyone asking (operations.reconcile). What changed is
noted while a transaction runs and acted on once, when it commits, so a re-assessment that stops some enrolments
and starts others leaves one new certificate, not one per step:

- any enrolment row added, or its status or period changed (this module's own table, seen at flush);
- `person_death_recorded` (webapp/signals.py): a member of the household died;
- `application_decided` with an ineligible decision on a claim (a recertification, a new application).

What a rolled-back transaction noted is harmless: reconcile reads the stored state, and changes nothing when the
certificate already agrees with it.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from webapp import signals

logger = logging.getLogger(__name__)
_PENDING = "certificate_households"


def note(session: Session, household_id: int, hint: str) -> None:
    """Have the household's certificate reconciled when `session` commits."""
    session.info.setdefault(_PENDING, {}).setdefault(household_id, set()).add(hint)


@event.listens_for(Session, "after_flush")
def _enrolments_changed(session, _context):
    from modules.enrolment.models import Enrolment

    for enrolment in session.new:
        if isinstance(enrolment, Enrolment):
            note(session, enrolment.household_id, "changed")
    for enrolment in session.dirty:
        if isinstance(enrolment, Enrolment):
            state = inspect(enrolment)
            if state.attrs.period_end.history.has_changes() or state.attrs.status.history.has_changes():
                note(session, enrolment.household_id, "changed")


@event.listens_for(Session, "before_commit")
def _reconcile_at_commit(session):
    from modules.enrolment.certificates.operations import reconcile_many

    for _round in range(3):  # reconciling writes certificates only, which notes nothing more
        session.flush()  # commit flushes after this hook: what is still pending must be noted first
        pending = session.info.pop(_PENDING, None)
        if not pending:
            return
        reconcile_many(pending)


@signals.person_death_recorded.connect
def _member_died(person, **_extra):
    from modules.registration.models import HouseholdMember
    from webapp.extensions import db

    households = db.session.scalars(select(HouseholdMember.household_id).where(
        HouseholdMember.person_id == person.id, HouseholdMember.left_at.is_(None)))
    for household_id in set(households):
        note(db.session(), household_id, "member_died")


@signals.application_decided.connect
def _decided(application, assessment=None, **_extra):
    from modules.means_test.models import Decision
    from modules.registration.models import Purpose
    from webapp.extensions import db

    # A re-assessment from a case changes nothing until a person confirms it; its enrolments then change.
    if assessment is not None and assessment.decision is Decision.ineligible and application.purpose is Purpose.claim:
        note(db.session(), application.household_id, "ineligible")
