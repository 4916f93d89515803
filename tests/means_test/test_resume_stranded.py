"""Collections that lost their job are started again by the periodic sweep; after repeated failures a person
verifies them instead. (The kill tests show the whole path with real processes; these pin the decisions.)"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from modules.means_test import tasks
from modules.means_test.operations import can_restart, resume_stranded, subject_of
from modules.registration import status as status_machine
from modules.registration.models import ApplicationStatus
from tests import factories
from webapp import jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.timeutil import utcnow

S = ApplicationStatus
LATER = utcnow() + timedelta(hours=1)  # well past SRSP_STRANDED_AFTER_SECONDS since anything happened


def _collecting_without_a_job(registrar):
    application = factories.register_family(registrar)
    status_machine.transition(application, S.collecting)
    db.session.flush()
    return application


def _collect_jobs(application) -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.subject == subject_of(application))))


def test_a_collection_without_a_job_is_started_again(app, registrar, monkeypatch):
    monkeypatch.setattr(jobs, "dispatch", lambda *args, **kwargs: None)  # what is queued, not the collection
    application = _collecting_without_a_job(registrar)
    assert can_restart(application), "stuck: staff may restart it too"
    assert resume_stranded(now=utcnow()) == {"resumed": 0, "to_manual_verification": 0}, "it just changed"
    assert resume_stranded(now=LATER) == {"resumed": 1, "to_manual_verification": 0}
    [job] = _collect_jobs(application)
    assert job.kind == tasks.collect.name and job.status is JobStatus.queued
    assert not can_restart(application), "a job runs it now"
    assert resume_stranded(now=LATER)["resumed"] == 0, "a collection with a live job is left alone"


def test_after_repeated_failures_a_person_verifies_it(app, registrar):
    application = _collecting_without_a_job(registrar)
    for _ in range(app.config["COLLECTION_MAX_FAILURES"]):
        db.session.add(Job(id=str(uuid.uuid4()), kind=tasks.collect.name, queue="collection",
                           subject=subject_of(application), status=JobStatus.failed, params={}))
    assert resume_stranded(now=LATER) == {"resumed": 0, "to_manual_verification": 1}
    assert application.status is S.manual_verification and _collect_jobs(application)[0].status is JobStatus.failed
