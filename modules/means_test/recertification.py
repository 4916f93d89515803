"""Batch recertification: re-assess every household whose entitlement period ends, with the pandas engine.

A household is due when its latest assessment is eligible and the longest of its programmes' periods (from the
month after the decision) ends in or before the month of `as_of`. Its facts on file are re-dated to `as_of`
(so ages, the income window and the pack version in force move with the date) and evaluated in chunks; each
result becomes a new assessment of kind `recertification`. A household recertified once is no longer due
(its new assessment is the latest), so running the job twice changes nothing the second time.

A run may cover one region (the national job runs one per region, side by side). On PostgreSQL a run first claims
its region (all of them when national) until it commits: two runs of the same region take turns, and the second
finds nothing due; runs of different regions never wait for each other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select, text

from modules.means_test.assessment import pack_id, store_assessment
from modules.means_test.models import Assessment, Decision
from modules.registration.models import Household
from rules import frames, vectorised
from rules.facts import validate_facts
from rules.pack import get_pack
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.timeutil import local_time

CHUNK = 5000


def period_end(assessment: Assessment) -> tuple[int, int]:
    """(year, month) of the last month paid: periods start the month after the decision."""
    decided = local_time(assessment.created_at).date()
    months = max((item["months"] for item in assessment.programmes), default=0)
    last = decided.year * 12 + decided.month - 1 + months  # month after the decision + months − 1
    return last // 12, last % 12 + 1


def due(as_of: date, region: str | None = None) -> list[Assessment]:
    """Latest assessment per household, eligible, whose period ends by the month of `as_of` (in `region`, a code,
    when given)."""
    latest = (select(func.max(Assessment.id)).where(Assessment.pack_id == pack_id())
              .group_by(Assessment.household_id))
    query = select(Assessment).where(Assessment.id.in_(latest), Assessment.decision == Decision.eligible)
    if region is not None:
        query = (query.join(Household, Household.id == Assessment.household_id)
                 .join(Area, Area.id == Household.area_id)
                 .where(Area.path.startswith(_region(region).path, autoescape=True)))
    candidates = db.session.scalars(query.order_by(Assessment.id)).all()
    return [item for item in candidates if period_end(item) <= (as_of.year, as_of.month)]


def _region(code: str) -> Area:
    region = db.session.scalar(select(Area).where(Area.code == code, Area.level == AreaLevel.region))
    if region is None:
        raise ValueError(f"{code} is not a region code")
    return region


def _claim(region: str | None) -> None:
    """PostgreSQL: hold the region's recertification (every region's when national) until the commit."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite writes one transaction at a time
    codes = [region] if region is not None else list(db.session.scalars(
        select(Area.code).where(Area.level == AreaLevel.region).order_by(Area.code)))
    for code in codes:  # always in the same order: a national run and a region's never wait for each other in turn
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('recertify:' || :region))"), {"region": code})


def recertify(as_of: date, chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None,
              actor=None, region: str | None = None) -> dict:
    """Re-assess every due household (of `region`, a code, when given); returns counts. Flushes per chunk; the
    caller commits once."""
    version = get_pack(pack_id()).version_for(as_of)
    _claim(region)
    todo = due(as_of, region)
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
