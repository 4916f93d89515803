"""Programme membership, payee lists, bank accounts, low-income certificates.

Reacts to `application_decided` (webapp/signals.py): an eligible decision on a claim enrols its beneficiaries at once,
inside the sender's transaction (no commit here), so a decision and its enrolments are stored together or not at all.
"""

import logging

from webapp import signals

logger = logging.getLogger(__name__)


@signals.application_decided.connect
def _enrol_on_decision(application, assessment=None, actor=None, **_extra):
    from flask import current_app

    from modules.enrolment.operations import EnrolmentError, enrol_from_assessment
    from modules.enrolment.tasks import open_bank_accounts
    from modules.registration.models import Purpose
    from webapp import audit, jobs
    from webapp.extensions import db

    if assessment is None or application.purpose is not Purpose.claim:
        return  # a re-assessment from a case enrols only when a person confirms it (modules/grievances)
    try:
        with db.session.begin_nested():
            created = enrol_from_assessment(assessment, actor)
    except EnrolmentError as refusal:  # e.g. the amounts disagree with the pack: the decision stands, staff see why
        logger.warning("application %s not enrolled: %s", application.id, refusal)
        audit.record("enrolment.refused", "application", application.id,
                     {"assessment": assessment.id, "reason": str(refusal)}, actor=actor)
        return
    if created and current_app.config.get("BANK_ACCOUNTS_ON_ENROLMENT"):
        # After the commit: the payee list goes to the bank only for enrolments that were stored.
        jobs.enqueue(open_bank_accounts, enrolment_ids=[enrolment.id for enrolment in created])
