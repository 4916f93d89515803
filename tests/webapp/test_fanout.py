"""The fan-out of one job into a job per part (region): parts with their own outcome, the parent's progress, the
assembly once when the last part finishes, a failed part retried alone, inline runs and the job page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import sign_in
from webapp import fanout, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus

FAILING: set[str] = set()
ASSEMBLED: list[dict] = []


@pytest.fixture(autouse=True)
def _fresh():
    FAILING.clear()
    ASSEMBLED.clear()


@jobs.task("default", timeout=60)
def count_letters(job_id: str, region: str) -> dict:
    if region in FAILING:
        raise RuntimeError(f"{region} is unreachable")
    jobs.report_progress(job_id, 50, "half-way")
    return {"done": len(region), "region": region}


def assemble_letters(results: dict, regions: list[str]) -> dict:
    ASSEMBLED.append(results)
    return {"regions": list(results), "letters": sum(item["done"] for item in results.values())}


@fanout.fan_out("default", child=count_letters, assemble=assemble_letters, permission="payroll.prepare",
                done_label="Letters")
def letters_by_region(regions: list[str]) -> list[fanout.Part]:
    return [fanout.Part(key=code, title=f"Region {code}", params={"region": code}) for code in regions]


def _job(job_id: str) -> Job:
    return db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))


def _parts(parent_id: str) -> dict[str, Job]:
    return {fanout.part_key(part): part for part in fanout.parts_of(parent_id)}


def test_a_job_per_part_runs_inline_and_the_result_is_assembled_once(app):
    parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK", "UZ-SA", "UZ-NW"])
    db.session.commit()
    parts = _parts(parent_id)
    assert sorted(parts) == ["UZ-NW", "UZ-SA", "UZ-TK"]
    assert all(part.status is JobStatus.finished and part.result["region"] == key for key, part in parts.items())
    assert {part.params["region"] for part in parts.values()} == set(parts), "a part carries its codes only"
    parent = _job(parent_id)
    assert parent.status is JobStatus.finished and parent.progress == 100
    assert parent.result == {"regions": ["UZ-NW", "UZ-SA", "UZ-TK"], "letters": 15}
    assert len(ASSEMBLED) == 1


def test_nothing_planned_is_assembled_at_once(app):
    parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=[])
    db.session.commit()
    assert _job(parent_id).status is JobStatus.finished and _job(parent_id).result == {"regions": [], "letters": 0}


def test_a_failed_part_fails_the_parent_and_is_retried_alone(app):
    FAILING.add("UZ-SA")
    parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK", "UZ-SA", "UZ-NW"])
    db.session.commit()
    parts = _parts(parent_id)
    assert parts["UZ-SA"].status is JobStatus.failed and "unreachable" in parts["UZ-SA"].error
    parent = _job(parent_id)
    assert parent.status is JobStatus.failed and parent.progress == 66 and not ASSEMBLED
    before = {key: (part.finished_at, part.attempts, part.result) for key, part in parts.items() if key != "UZ-SA"}

    FAILING.clear()  # the cause is fixed
    assert [job.id for job in fanout.retry(parts["UZ-SA"])] == [parts["UZ-SA"].id]
    assert _job(parent_id).status is JobStatus.running, "the parent waits for the part again"
    db.session.commit()
    parts = _parts(parent_id)
    assert parts["UZ-SA"].status is JobStatus.finished and parts["UZ-SA"].attempts == 1
    assert {key: (part.finished_at, part.attempts, part.result) for key, part in parts.items()
            if key != "UZ-SA"} == before, "the other parts did not run again"
    parent = _job(parent_id)
    assert parent.status is JobStatus.finished and parent.result["letters"] == 15 and len(ASSEMBLED) == 1


def test_retrying_a_failed_parent_retries_its_failed_parts(app):
    FAILING.update({"UZ-SA", "UZ-NW"})
    parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK", "UZ-SA", "UZ-NW"])
    db.session.commit()
    FAILING.clear()
    again = fanout.retry(_job(parent_id))
    assert sorted(fanout.part_key(job) for job in again) == ["UZ-NW", "UZ-SA"]
    db.session.commit()
    assert _job(parent_id).status is JobStatus.finished and len(ASSEMBLED) == 1


def test_a_job_that_has_not_failed_is_not_retried(app):
    parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK"])
    db.session.commit()
    with pytest.raises(fanout.NotRetryable):
        fanout.retry(_parts(parent_id)["UZ-TK"])


def test_the_last_two_parts_finishing_together_queue_the_assembly_once(app, monkeypatch):
    """Two parts' outcomes counted one after the other (as the parent's row lock orders them): each sees both
    finished, only the first moves the parent out of waiting."""
    with monkeypatch.context() as held:
        held.setattr(jobs, "dispatch", lambda *args, **kwargs: None)  # committed jobs stay queued, not run
        parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK", "UZ-SA"])
        db.session.commit()
        jobs.execute(parent_id, reraise=True)  # plans the parts
    parts = _parts(parent_id)
    assert _job(parent_id).status is JobStatus.running and _job(parent_id).worker is None
    for part in parts.values():
        part.status, part.result = JobStatus.finished, {"done": 1}
    fanout.part_settled(parent_id)
    fanout.part_settled(parent_id)
    handed = [item for item in db.session.info.get(jobs._PENDING, []) if item[0] == parent_id]
    assert len(handed) == 1 and _job(parent_id).status is JobStatus.queued
    db.session.commit()
    assert _job(parent_id).status is JobStatus.finished and len(ASSEMBLED) == 1


# --- the job page -------------------------------------------------------------------------------------------------


def _failed_month(user) -> tuple[str, dict[str, Job]]:
    FAILING.add("UZ-SA")
    parent_id = jobs.enqueue(letters_by_region, title="Letters of the month", user=user,
                             regions=["UZ-TK", "UZ-SA", "UZ-NW"])
    db.session.commit()
    FAILING.clear()
    return parent_id, _parts(parent_id)


def test_the_job_page_shows_each_region_with_its_status_and_the_retry_button(client, app):
    maker = factories.make_user("finance_maker", national=True)
    parent_id, parts = _failed_month(maker)
    sign_in(client, maker)
    page = client.get(f"/jobs/{parent_id}").get_data(as_text=True)
    for key in ("UZ-TK", "UZ-SA", "UZ-NW"):
        assert f"Region {key}" in page and f'id="part-{parts[key].id}"' in page
    assert "2 of 3 parts finished" in page and "UZ-SA is unreachable" in page
    assert page.count(f"/jobs/{parts['UZ-SA'].id}/retry") == 1, "a button on the failed part only"
    listed = client.get("/jobs").get_data(as_text=True)
    assert "Letters of the month" in listed and "Region UZ-TK" not in listed, "parts are listed on their job's page"
    status = client.get(f"/jobs/{parent_id}.json").get_json()
    assert sorted(part["status"] for part in status["parts"]) == ["failed", "finished", "finished"]
    # What job.js needs to keep each row current without a reload: the row's cells and the status in words.
    for part in status["parts"]:
        row = page.split(f'id="part-{part["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert f'>{part["status_label"]}</span>' in row and 'class="part-percent"' in row and "part-done" in row


def test_the_retry_button_runs_the_failed_region_again(client, app):
    maker = factories.make_user("finance_maker", national=True)
    parent_id, parts = _failed_month(maker)
    sign_in(client, maker)
    response = client.post(f"/jobs/{parts['UZ-SA'].id}/retry", data={"csrf_token": client.csrf})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{parent_id}")
    assert _job(parts["UZ-SA"].id).status is JobStatus.finished
    assert _job(parent_id).status is JobStatus.finished and _job(parent_id).result["letters"] == 15


def test_only_staff_with_the_fan_outs_permission_may_retry(client, app):
    maker = factories.make_user("finance_maker", national=True)
    admin = factories.make_user("admin")  # sees every job, may not prepare payrolls
    parent_id, parts = _failed_month(maker)
    sign_in(client, admin)
    assert f"/jobs/{parts['UZ-SA'].id}/retry" not in client.get(f"/jobs/{parent_id}").get_data(as_text=True)
    assert client.post(f"/jobs/{parts['UZ-SA'].id}/retry", data={"csrf_token": client.csrf}).status_code == 403
    assert _job(parts["UZ-SA"].id).status is JobStatus.failed


def test_the_retry_needs_the_forms_csrf_token(client, app):
    maker = factories.make_user("finance_maker", national=True)
    _parent_id, parts = _failed_month(maker)
    sign_in(client, maker)
    assert client.post(f"/jobs/{parts['UZ-SA'].id}/retry").status_code == 400
    assert _job(parts["UZ-SA"].id).status is JobStatus.failed


def test_another_makers_job_cannot_be_retried(client, app):
    maker, other = (factories.make_user("finance_maker", national=True) for _ in range(2))
    _parent_id, parts = _failed_month(maker)
    sign_in(client, other)
    assert client.post(f"/jobs/{parts['UZ-SA'].id}/retry", data={"csrf_token": client.csrf}).status_code == 404


def test_the_sweeper_leaves_a_parent_waiting_for_its_parts_alone(app, monkeypatch):
    with monkeypatch.context() as held:
        held.setattr(jobs, "dispatch", lambda *args, **kwargs: None)
        parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK"])
        db.session.commit()
        jobs.execute(parent_id, reraise=True)  # plans the part, whose hand-over is then lost
    [part] = fanout.parts_of(parent_id)
    part.created_at = _job(parent_id).created_at - timedelta(minutes=5)
    counts = jobs.sweep_jobs("sweep")
    assert counts == {"handed_over": 1, "restarted": 0, "failed": 0}, "the part is handed over, the parent waits"
    db.session.commit()
    assert _job(part.id).status is JobStatus.finished and _job(parent_id).status is JobStatus.finished


def test_the_parents_progress_is_the_parts_finished_out_of_all(app, monkeypatch):
    with monkeypatch.context() as held:
        held.setattr(jobs, "dispatch", lambda *args, **kwargs: None)  # the parts wait until the test runs them
        parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK", "UZ-SA", "UZ-NW", "UZ-AN"])
        db.session.commit()
        jobs.execute(parent_id, reraise=True)
        parts = list(_parts(parent_id).values())
        assert (_job(parent_id).progress, _job(parent_id).message) == (0, "0/4")
        for done, part in enumerate(parts[:3], start=1):
            jobs.execute(part.id, reraise=True)
            assert (_job(parent_id).progress, _job(parent_id).message) == (100 * done // 4, f"{done}/4")
            assert _job(parent_id).status is JobStatus.running and not ASSEMBLED
    jobs.execute(parts[3].id, reraise=True)  # the last part: the parent is queued, handed over and assembles
    assert _job(parent_id).status is JobStatus.finished and len(ASSEMBLED) == 1


def test_a_part_that_keeps_killing_its_worker_fails_its_parent(app, monkeypatch):
    with monkeypatch.context() as held:
        held.setattr(jobs, "dispatch", lambda *args, **kwargs: None)
        parent_id = jobs.enqueue(letters_by_region, title="Letters", regions=["UZ-TK"])
        db.session.commit()
        jobs.execute(parent_id, reraise=True)
    [part] = fanout.parts_of(parent_id)
    part.status, part.attempts, part.worker = JobStatus.running, 1 + jobs.RESTARTS, "another-host:1"
    part.lease_until = part.created_at  # long past
    assert jobs.sweep_jobs("sweep")["failed"] == 1
    db.session.commit()
    assert _job(parent_id).status is JobStatus.failed, "the parent does not wait for a part that will not run"
