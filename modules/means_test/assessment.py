"""Assessment and decision: collected evidence → facts → the country's rule pack → a stored, explained decision.

Runs in the collection job as soon as every source has answered, so an application is decided within seconds
of its collection. The pack version is the one in force on the application date. The assessment row keeps the
facts, the trace and the amounts; the decision is automatic (the registry assigns or rejects), and
the applicant is told by SMS (`modules.means_test.notices`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

from flask import current_app

from modules.means_test.facts import build_facts
from modules.means_test.models import Assessment, Decision
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationStatus
from rules.engines import evaluate
from webapp import audit, signals
from webapp.extensions import db
from webapp.programmes import rule_pack_of
from webapp.timeutil import utcnow

logger = logging.getLogger(__name__)
S = ApplicationStatus


def pack_id() -> str:
    """The country's rule pack (SRSP_COUNTRY: uz or kg)."""
    return current_app.config["COUNTRY"]


def pack_for(application: Application) -> str:
    """The rule pack that declares the programmes applied for (registration takes only the country's)."""
    return rule_pack_of(list(application.programmes))


def store_assessment(application: Application, facts: dict, result: dict, engine: str, actor=None,
                     kind: str = "initial", created_at: datetime | None = None) -> Assessment:
    """One immutable assessment row from an engine result (`created_at`: when decided, default now)."""
    total = sum(Decimal(str(p["monthly_amount"])) for p in result["programmes"])
    pack, version = result["pack_version"].split("@", 1)
    assessment = Assessment(
        application_id=application.id, household_id=application.household_id, kind=kind, pack_id=pack,
        pack_version=version, engine=engine, as_of=date.fromisoformat(facts["application_date"]),
        decision=Decision(result["decision"]), per_capita_income=Decimal(str(result["per_capita_income"])),
        monthly_total=total, reasons=result["reasons"], programmes=result["programmes"], facts=facts,
        trace=result["trace"], created_by_id=getattr(actor, "id", None), created_at=created_at or utcnow())
    db.session.add(assessment)
    db.session.flush()
    return assessment


def assess(application: Application, actor=None) -> Assessment:
    """Assess a collected application with the real-time engine and decide it."""
    facts = build_facts(application)
    result = evaluate(facts, pack_for(application), engine="durable_rules")
    assessment = store_assessment(application, facts, result, "durable_rules", actor)
    status_machine.transition(application, S.assessed, actor, note=f"{result['pack_version']}: {result['decision']}")
    status_machine.transition(application, S.decided, actor, note=result["decision"])
    audit.record("assessment.decided", "application", application.id,
                 {"assessment": assessment.id, "decision": result["decision"],
                  "pack_version": result["pack_version"]}, actor=actor)
    signals.application_decided.send(application, assessment=assessment, actor=actor)
    return assessment


def assess_safely(application: Application, actor=None) -> Assessment | None:
    """Assess inside a savepoint: a failure leaves the application collected (with a note), the evidence kept."""
    try:
        with db.session.begin_nested():
            return assess(application, actor)
    except Exception as error:  # noqa: BLE001 — any failure must not lose the collected evidence
        logger.exception("assessment of application %s failed", application.id)
        audit.record("assessment.failed", "application", application.id, {"error": str(error)[:500]}, actor=actor)
        return None
