"""The policy simulation as a job split by region: the regions' partial reports merge into the country's report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from modules.means_test.simulation import NO_REGION, merge, partial, simulate
from modules.means_test.simulation_tasks import simulate_national
from tests.means_test.conftest import RAISED
from webapp import fanout
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.models import Job, JobStatus


def _by_region(**kwargs) -> list[dict]:
    codes = [region.code for region in fanout.regions()] + [NO_REGION]
    return [json.loads(json.dumps(partial(simulate("uz", region=code, **kwargs)))) for code in codes]


@pytest.mark.parametrize("changes", [RAISED, {"income_threshold": 550000}, {}])
def test_the_regions_merged_are_the_country(households, changes):
    whole = simulate("uz", changes).to_dict()
    merged = merge(_by_region(changes=changes)).to_dict()
    assert merged == whole
    assert whole["households"] == 6 and {row["code"] for row in whole["regions"]} <= {"UZ-TK", "UZ-SA", "UZ-AN"}


def test_a_region_simulates_its_own_households_only(households):
    report = simulate("uz", RAISED, region="UZ-SA")
    assert report.households == 2 and [row.code for row in report.regions] == ["UZ-SA"]
    assert simulate("uz", RAISED, region=NO_REGION).households == 0


def test_the_national_job_runs_a_part_per_region_and_shows_the_report(app, households):
    job_id = enqueue(simulate_national, title="Simulation", pack_id="uz", changes=RAISED)
    db.session.commit()  # inline: the regions one after the other
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    assert job.status is JobStatus.finished, job.error
    assert job.result == json.loads(json.dumps(simulate("uz", RAISED).to_dict()))
    parts = db.session.scalars(select(Job).where(Job.subject == fanout.subject_of(job_id))).all()
    assert len(parts) == len(fanout.regions()) + 1
    assert sum(part.result["done"] for part in parts) == 6
