"""The policy simulation as a job split by region: the regions' partial reports merge into the country's report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from modules.means_test.simulation import NO_REGION, merge, partial, simulate
from modules.means_test.simulation_tasks import simulate_national, start_simulation
from tests import factories
from tests.conftest import sign_in
from tests.means_test.conftest import RAISED
from webapp import fanout
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.models import AuditEvent, Job, JobStatus


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
    report = {key: value for key, value in job.result.items() if key not in ("chart", "labels", "scoped")}
    assert report == json.loads(json.dumps(simulate("uz", RAISED).to_dict()))
    assert [bar["code"] for bar in job.result["chart"]["bars"]] == [row["code"] for row in report["regions"]]
    parts = db.session.scalars(select(Job).where(Job.subject == fanout.subject_of(job_id))).all()
    assert len(parts) == len(fanout.regions()) + 1
    assert sum(part.result["done"] for part in parts) == 6


def test_the_job_page_shows_the_report_and_its_csv_is_for_who_ran_it(app, client, households):
    analyst = factories.make_user("analyst", national=True)
    sign_in(client, analyst)
    job_id = start_simulation(analyst, "uz", RAISED, labels={"income_threshold": "Income threshold"})
    db.session.commit()  # inline: the regions one after the other
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert '<span class="figure up" id="newly-eligible-households">3</span>' in page
    assert '<tr data-code="UZ-TK"><td>Tashkent City</td>' in page and page.count("<rect ") == 3
    assert "Income threshold = " in page and "Download CSV of the changes" in page

    response = client.post("/policy/simulate.csv", data={"csrf_token": client.csrf, "job": job_id})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(int(row["household_id"]) for row in rows) == sorted(households[key].household_id
                                                                      for key in ("H1", "H2", "H6"))
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "policy.simulation_exported"))
    other = sign_in(app.test_client(), factories.make_user("analyst", national=True))
    assert other.post("/policy/simulate.csv", data={"csrf_token": other.csrf, "job": job_id}).status_code == 404
    assert client.post("/policy/simulate.csv", data={"csrf_token": client.csrf, "job": "none"}).status_code == 404
