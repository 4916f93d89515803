"""The re-assessment section of the case page: what a re-assessment is doing, the assessment before and after in
words, and what confirming would do to the household's benefits (or why that cannot be worked out)."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.grievances import reassessment as operations
from modules.grievances.models import Reassessment
from modules.means_test.explain import explain
from modules.means_test.models import Assessment
from modules.registration.models import Application
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Programme

KIND_WORDS = {"birth": _l("Birth"), "death": _l("Death"), "moved_in": _l("Moved in"), "moved_out": _l("Moved out"),
              "income": _l("New job or income")}
RELATION_WORDS = {"spouse": _l("Spouse"), "child": _l("Child"), "parent": _l("Parent"), "other": _l("Other relative"),
                  "head": _l("Head of the household")}
STATUS_WORDS = {"collecting": _l("Asking the registries"), "assessed": _l("Waiting for confirmation"),
                "confirmed": _l("Confirmed"), "discarded": _l("Discarded")}
OUTCOME_WORDS = {"recalculated": _l("Benefits recalculated"), "stands": _l("Original decision stands"),
                 "overturned": _l("Decision overturned")}
OUTCOME_DONE = {"recalculated": _l("Confirmed: the household's benefits follow the new assessment."),
                "stands": _l("Confirmed: the original decision stands and the appeal is resolved."),
                "overturned": _l("Confirmed: the household is enrolled and the months missed will be paid.")}
DECISION_WORDS = {"eligible": _l("Eligible"), "ineligible": _l("Not eligible")}


def words() -> dict:
    return {"kind_word": lambda code: str(KIND_WORDS.get(code, "—")),
            "relation_word": lambda code: str(RELATION_WORDS.get(getattr(code, "value", code), "—")),
            "describe": operations.describe}


def summary(assessment: Assessment | None) -> dict | None:
    """An assessment as the comparison shows it: decision, income per person, amounts, the reasons in words."""
    if assessment is None:
        return None
    explained = explain(assessment)
    codes = [item["code"] for item in assessment.programmes]
    names = {p.code: p.name for p in db.session.scalars(select(Programme).where(Programme.code.in_(codes)))}
    return {"assessment": assessment, "decision": str(DECISION_WORDS.get(assessment.decision.value, "—")),
            "eligible": assessment.decision.value == "eligible",
            "reasons": [rule["message"] for rule in explained["rules"] if rule["fired"] and rule["message"]],
            "programmes": [{"name": names.get(item["code"], "—"), "monthly": item["monthly_amount"],
                            "months": int(item["months"])} for item in assessment.programmes]}


def _plan(shown: Reassessment, today: date, running) -> dict:
    """What confirming would do, or why it cannot be worked out (the refusal confirming would meet)."""
    if shown is not running:
        return {"plan": None, "plan_error": None}
    try:
        return {"plan": operations.plan_for(shown, today), "plan_error": None}
    except Refusal as refusal:
        return {"plan": None, "plan_error": str(refusal)}


def panel(case, today: date) -> dict:
    """Everything the case page's re-assessment section needs."""
    items = operations.of_case(case)
    running = next((r for r in items if r.status.value in ("collecting", "assessed")), None)
    shown = running or (items[-1] if items else None)
    context = {"items": items, "shown": shown, "can_change": operations.can_change(case) and running is None,
               "can_appeal": operations.can_appeal(case) and running is None,
               "status_word": lambda code: str(STATUS_WORDS.get(getattr(code, "value", code), "—")),
               "outcome_word": lambda code: str(OUTCOME_WORDS.get(getattr(code, "value", code), "—")), **words()}
    if shown is not None:
        old = db.session.get(Assessment, shown.previous_assessment_id) if shown.previous_assessment_id else None
        context.update(old=summary(old), new=summary(operations.new_assessment(shown)),
                       outcome=operations.outcome_of(shown) if shown is running else shown.outcome,
                       **_plan(shown, today, running),
                       application=db.session.get(Application, shown.application_id)
                       if shown.application_id else None)
    return context
