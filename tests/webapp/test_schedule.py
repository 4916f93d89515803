"""The periodic schedule: each slot runs once however many schedulers run, late starts catch up, and the real
schedule queues recertification and the bank-account sync with nobody invoking them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from modules.enrolment.tasks import sync_bank_accounts
from modules.means_test.tasks import recertify_households
from webapp import jobs
from webapp.extensions import db
from webapp.models import Job
from webapp.scheduler import Every, Monthly, Periodic, Scheduler, effective

TICKS: list[str] = []


@jobs.task("default")
def tick_job(job_id: str) -> None:
    TICKS.append(job_id)


SCHEDULE = (Periodic("tick", tick_job, Every(seconds=60)),)


@pytest.fixture(autouse=True)
def _clear():
    TICKS.clear()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_slot_runs_once_however_many_schedulers_tick(app):
    first, second = Scheduler(app, SCHEDULE), Scheduler(app, SCHEDULE)
    assert first.tick(_at("2026-12-05 10:00:05")) == ["tick"]
    assert first.tick(_at("2026-12-05 10:00:50")) == [], "same minute: already enqueued here"
    assert second.tick(_at("2026-12-05 10:00:30")) == [], "same minute: another scheduler enqueued it"
    assert second.tick(_at("2026-12-05 10:01:00")) == ["tick"]
    assert len(TICKS) == 2


def test_monthly_slots_are_the_countrys_months_and_a_late_start_catches_up():
    monthly = Monthly(day=1, hour=2)  # Tashkent is UTC+5
    assert monthly.slot(_at("2026-11-30 20:59")) == "2026-11", "01:59 on the 1st in Tashkent: not yet"
    assert monthly.slot(_at("2026-11-30 21:00")) == "2026-12"
    assert monthly.slot(_at("2026-12-03 09:00")) == "2026-12", "a scheduler started on the 3rd still runs it"
    assert monthly.slot(_at("2025-12-31 20:00")) == "2025-12", "01:00 on 1 January in Tashkent"


def test_configuration_changes_a_period_or_turns_an_entry_off():
    schedule = SCHEDULE + (Periodic("other", tick_job, Every(seconds=3600)),)
    entries = effective(schedule, {"tick": 5, "other": "off"})
    assert [(entry.name, entry.when) for entry in entries] == [("tick", Every(seconds=5))]
    with pytest.raises(ValueError, match="nonsense"):
        effective(schedule, {"nonsense": 5})


def test_the_real_schedule_queues_recertification_and_bank_sync_by_itself(app, monkeypatch):
    from webapp.schedule import SCHEDULE as REAL

    # Dispatch nothing: this test is about what gets queued, not about running a national recertification.
    monkeypatch.setattr(jobs, "dispatch", lambda *args, **kwargs: None)
    started = Scheduler(app, REAL).tick(_at("2026-12-01 03:00"))
    assert {"recertification", "bank-accounts", "sweep-jobs", "resume-collections"} <= set(started)
    kinds = set(db.session.scalars(select(Job.kind).where(Job.dedupe_key.like("schedule:%:%"))))
    assert {recertify_households.name, sync_bank_accounts.name} <= kinds
    assert db.session.scalar(select(Job.dedupe_key).where(Job.kind == recertify_households.name)) \
        == "schedule:recertification:2026-12"
