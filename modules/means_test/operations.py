"""Starting data collection, by people and by the system, and resuming collections that lost their job.

The collection itself runs as a job (`tasks.collect`, logic in `collection.py`). Its job is written in the same
transaction as the status change that needs it (the job outbox), and `resume_stranded` finds any application
that still waits on collection without a live job — a worker killed mid-run, a job that failed for good — and
starts it again, or sends it to manual verification after repeated failures.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, func, select

from modules.means_test import tasks
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationEvent, ApplicationStatus
from webapp import audit, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.timeutil import utcnow

S = ApplicationStatus
_RESTARTABLE = {S.submitted, S.manual_verification, S.collected}
_WAITING = (S.submitted, S.collecting, S.collected)  # states the system moves on by itself


def subject_of(application: Application) -> str:
    return f"application:{application.id}"


def start_collection(application: Application, actor=None, sources: list[str] | None = None,
                     probe: bool = False) -> str:
    """Move to `collecting` (when not already) and queue the collection job with it; returns the job id.

    `probe` (a person's retry): sources behind an open circuit breaker get one trial call (see `collection`).
    """
    if application.status is not S.collecting:
        status_machine.transition(application, S.collecting, actor,
                                  note=("retry: " + ", ".join(sources)) if sources else None)
    return jobs.enqueue(tasks.collect, subject=subject_of(application), application_id=application.id,
                        sources=sources, user_id=getattr(actor, "id", None), probe=probe)


def can_restart(application: Application) -> bool:
    """Staff may restart collection after it ended, or when it is stuck: collecting with no job running it."""
    if application.status in _RESTARTABLE:
        return True
    return application.status is S.collecting and not jobs.live_subjects([subject_of(application)])


def resume_stranded(now=None) -> dict:
    """Start again every collection that waits without a live job; after repeated failures, ask a person."""
    now = now or utcnow()
    counts = {"resumed": 0, "to_manual_verification": 0}
    stranded = _stranded(now - timedelta(seconds=current_app.config["STRANDED_AFTER_SECONDS"]))
    subjects = [subject_of(application) for application in stranded]
    live, failures = jobs.live_subjects(subjects), _failed_runs(subjects)
    for application in stranded:
        if subject_of(application) in live:
            continue
        if failures.get(subject_of(application), 0) >= current_app.config["COLLECTION_MAX_FAILURES"]:
            _to_manual_verification(application)
            counts["to_manual_verification"] += 1
        else:
            start_collection(application)
            audit.record("application.collection_resumed", "application", application.id,
                         {"status": application.status.value})
            counts["resumed"] += 1
    return counts


def _stranded(unchanged_since) -> list[Application]:
    """Applications the system should move on by itself that have not changed since `unchanged_since`."""
    waiting = [S.collecting, S.collected]
    if current_app.config.get("COLLECT_ON_SUBMIT", True):
        waiting.append(S.submitted)
    recent = exists().where(ApplicationEvent.application_id == Application.id, ApplicationEvent.at >= unchanged_since)
    return list(db.session.scalars(select(Application).where(Application.status.in_(waiting), ~recent)
                                   .order_by(Application.id).limit(500)))


def _failed_runs(subjects: list[str]) -> dict[str, int]:
    """{subject: failed collection runs}, in one query for every stranded application."""
    if not subjects:
        return {}
    return dict(db.session.execute(select(Job.subject, func.count()).where(
        Job.subject.in_(subjects), Job.kind == tasks.collect.name, Job.status == JobStatus.failed)
        .group_by(Job.subject)).all())


def _to_manual_verification(application: Application) -> None:
    if application.status is not S.collecting:
        status_machine.transition(application, S.collecting)
    status_machine.transition(application, S.manual_verification, note="collection failed repeatedly")
