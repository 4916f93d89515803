"""Batch recertification: re-assess every household whose entitlement period ends, with the pandas engine.

A household is due when its latest assessment is eligible and the longest of its programmes' periods (from the
month after the decision) ends in or before the month of `as_of`. Its facts on file are re-dated to `as_of`
(so ages, the income window and the pack version in force move with the date) and evaluated in chunks; each
result becomes a new assessment of kind `recertification`. A household recertified once is no longer due
(its new assessment is the latest), so running the job twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select

from modules.means_test.assessment import pack_id, store_assessment
from modules.means_test.models import Assessment, Decision
from rules import frames, vectorised
from rules.facts import validate_facts
from rules.pack import get_pack
from webapp.extensions import db
from webapp.timeutil import local_time

CHUNK = 5000


def period_end(assessment: Assessment) -> tuple[int, int]:
    """(year, month) of the last month paid: periods start the month after the decision."""
    decided = local_time(assessment.created_at).date()
    months = max((item["months"] for item in assessment.programmes), default=0)
    last = decided.year * 12 + decided.month - 1 + months  # month after the decision + months − 1
    return last // 12, last % 12 + 1


def due(as_of: date) -> list[Assessment]:
    """Latest assessment per household, eligible, whose period ends by the month of `as_of`."""
    latest = (select(func.max(Assessment.id)).where(Assessment.pack_id == pack_id())
              .group_by(Assessment.household_id))
    candidates = db.session.scalars(select(Assessment).where(Assessment.id.in_(latest),
                                                             Assessment.decision == Decision.eligible)
                                    .order_by(Assessment.id)).all()
    return [item for item in candidates if period_end(item) <= (as_of.year, as_of.month)]


def recertify(as_of: date, chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None,
              actor=None) -> dict:
    """Re-assess every due household; returns counts. Flushes per chunk; the caller commits once."""
    version = get_pack(pack_id()).version_for(as_of)
    todo = due(as_of)
    counts = {"due": len(todo), "eligible": 0, "ineligible": 0}
    for start in range(0, len(todo), chunk):
        batch = todo[start:start + chunk]
        documents = [validate_facts({**item.facts, "application_date": as_of.isoformat()}) for item in batch]
        results = vectorised.results(vectorised.evaluate_frames(frames.from_documents(documents), version),
                                     documents)
        for previous, facts, result in zip(batch, documents, results, strict=True):
            store_assessment(previous.application, facts, result, "pandas", actor, kind="recertification")
            counts[result["decision"]] += 1
        db.session.flush()
        if progress:
            progress(min(start + chunk, len(todo)), len(todo))
    return counts
