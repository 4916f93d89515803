"""Recertification by region: a run limited to one region, the national run as one job per region with the counts
assembled, and two runs of one region on PostgreSQL taking turns so a household is recertified once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from modules.means_test.models import Assessment
from modules.means_test.recertification import due, recertify
from modules.means_test.tasks import recertify_households
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from webapp import fanout, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus

DECIDED = datetime(2025, 11, 20, 8, tzinfo=UTC)  # child allowance: the period ends in November 2026
AS_OF = date(2026, 11, 15)


def _due_in(region: str) -> Assessment:
    return factories.decided_assessment(factories.make_family(region, children=2), decided=DECIDED)


def _recertified(household_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Assessment).where(
        Assessment.household_id == household_id, Assessment.kind == "recertification"))


def test_a_run_for_one_region_recertifies_only_its_households(app):
    tashkent, samarkand = _due_in("UZ-TK"), _due_in("UZ-SA")
    assert {item.id for item in due(AS_OF)} == {tashkent.id, samarkand.id}
    assert [item.id for item in due(AS_OF, "UZ-SA")] == [samarkand.id]
    assert recertify(AS_OF, region="UZ-SA")["due"] == 1
    assert (_recertified(samarkand.household_id), _recertified(tashkent.household_id)) == (1, 0)
    assert [item.id for item in due(AS_OF)] == [tashkent.id]
    with pytest.raises(ValueError, match="not a region"):
        recertify(AS_OF, region="UZ-XX")


def test_the_national_run_is_a_job_per_region_and_assembles_the_counts(app):
    tashkent, samarkand = _due_in("UZ-TK"), _due_in("UZ-SA")
    job_id = jobs.enqueue(recertify_households, title="Monthly recertification", as_of=AS_OF.isoformat())
    db.session.commit()  # inline: the regions one after the other
    parts = {fanout.part_key(part): part for part in fanout.parts_of(job_id)}
    assert len(parts) == 14 and {part.status for part in parts.values()} == {JobStatus.finished}
    assert parts["UZ-TK"].params == {"as_of": AS_OF.isoformat(), "region": "UZ-TK", "user_id": None}
    assert parts["UZ-SA"].result["done"] == 1 and parts["UZ-AN"].result["done"] == 0
    job = db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert job.status is JobStatus.finished
    assert (job.result["due"], job.result["regions"]["UZ-TK"]["due"]) == (2, 1)
    assert _recertified(tashkent.household_id) == _recertified(samarkand.household_id) == 1


def test_the_national_run_plans_every_region_as_of_the_same_day(app):
    parts = fanout.FANOUTS[recertify_households.name].plan()
    assert len(parts) == 14 and len({part.params["as_of"] for part in parts}) == 1


@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="concurrent sessions: PostgreSQL")
def test_two_runs_of_one_region_take_turns_and_recertify_a_household_once(app):
    families = {region: factories.make_family(region, children=2) for region in ("UZ-TK", "UZ-SA")}
    assessments = {region: factories.decided_assessment(family, decided=DECIDED) for region, family in families.items()}
    db.session.commit()
    households = {region: item.household_id for region, item in assessments.items()}
    committed = [{"application": assessments[region].application_id, "household": households[region],
                  "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}
                 for region, family in families.items()]
    db.session.remove()
    barrier, results = threading.Barrier(3), {}

    def run(key: str, region: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[key] = recertify(AS_OF, region=region)["due"]
                db.session.commit()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(key, region))
               for key, region in (("first", "UZ-TK"), ("second", "UZ-TK"), ("samarkand", "UZ-SA"))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted([results["first"], results["second"]]) == [0, 1], "the second run found it done"
        assert results["samarkand"] == 1
        assert _recertified(households["UZ-TK"]) == _recertified(households["UZ-SA"]) == 1
    finally:
        db.session.rollback()
        for family in committed:
            factories.remove_family(family)  # the application takes its assessments with it
        db.session.commit()
