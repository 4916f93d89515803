"""Data collection per application: pull every source for every member, keep the evidence, move the status.

An application leaves `collecting` only when every source has answered (ok or not_found) for every member:
then it is `collected`. Sources that still fail after the retry budget send it to `manual_verification`, where
a registrar sees which sources are missing and retries them. Nothing is ever assessed from partial data.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select

from connectors import records as canonical
from connectors.base import income_window
from connectors.catalog import SOURCES
from connectors.registry import connectors_for
from connectors.transport.xroad import user_id_of
from modules.means_test.models import DataPull, PullStatus
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationStatus
from webapp import jobs
from webapp.extensions import db
from webapp.timeutil import local_time

S = ApplicationStatus
_RESTARTABLE = {S.submitted, S.manual_verification, S.collected}


def start_collection(application: Application, actor=None, sources: list[str] | None = None) -> str:
    """Move to `collecting` (when not already) and queue the collection job after commit; returns the job id."""
    if application.status is not S.collecting:
        status_machine.transition(application, S.collecting, actor,
                                  note=("retry: " + ", ".join(sources)) if sources else None)
    return jobs.enqueue("modules.means_test.tasks:collect", queue="collection", application_id=application.id,
                        sources=sources, user_id=getattr(actor, "id", None))


def can_restart(application: Application) -> bool:
    return application.status in _RESTARTABLE


def latest_pulls(application_id: int) -> dict[tuple[str, int], DataPull]:
    """The newest pull per (source, person): what the application currently knows."""
    pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application_id)
                               .order_by(DataPull.id)).all()
    return {(pull.source, pull.person_id): pull for pull in pulls}


def missing_sources(application: Application, latest: dict | None = None) -> list[str]:
    latest = latest_pulls(application.id) if latest is None else latest
    return [source.name for source in SOURCES if not all(
        (pull := latest.get((source.name, member.person_id))) is not None and pull.status.answered
        for member in application.members)]


def collect(application: Application, sources: list[str] | None = None, user=None) -> dict:
    """Pull the wanted (default: missing) sources in rounds; finish in collected or manual_verification."""
    if application.status is not S.collecting:
        return {"skipped": application.status.value}  # idempotent: a second run of the job changes nothing
    members = {member.person.pin: member.person_id for member in application.members}
    window = income_window(local_time(application.submitted_at or application.created_at).date())
    wanted = sources or missing_sources(application)
    rounds = current_app.config["COLLECTION_ROUNDS"]
    for round_number in range(rounds):
        _record(application.id, members, _pull(wanted, list(members), window, user))
        db.session.flush()
        wanted = [name for name in wanted if name in missing_sources(application)]
        if not wanted:
            break
        if round_number < rounds - 1:
            time.sleep(current_app.config.get("COLLECTION_BACKOFF", 0.5) * 2 ** round_number)
    return _finish(application, user)


def _pull(source_names: list[str], pins: list[str], window, user) -> dict:
    """All wanted sources at once (each source limits its own concurrency); one family batch per source."""
    connectors = connectors_for()
    user_id = user_id_of(user)
    with ThreadPoolExecutor(max_workers=max(1, len(source_names))) as pool:
        futures = {name: pool.submit(connectors[name].fetch, pins, window=window, user_id=user_id)
                   for name in source_names}
        return {name: future.result() for name, future in futures.items()}


def _record(application_id: int, members: dict[str, int], outcomes: dict) -> None:
    """One append-only data_pull row per source and person: the evidence behind any later decision."""
    db.session.add_all(
        DataPull(application_id=application_id, person_id=members[pin], source=source, status=PullStatus(out.status),
                 latency_ms=round(out.latency_ms), attempts=out.attempts, request_id=out.request_id,
                 error=out.error, payload=[canonical.to_json(record) for record in out.records])
        for source, by_pin in outcomes.items() for pin, out in by_pin.items())


def _finish(application: Application, user) -> dict:
    missing = missing_sources(application)
    if missing:
        status_machine.transition(application, S.manual_verification, user,
                                  note="no answer from: " + ", ".join(missing))
    else:
        status_machine.transition(application, S.collected, user)
        from modules.means_test.assessment import assess_safely

        assess_safely(application, user)
    return {"status": application.status.value, "missing": missing}


def source_table(application: Application) -> list[dict]:
    """Per source: overall state, slowest latency, records per member — for the application page."""
    latest = latest_pulls(application.id)
    rows = []
    for source in SOURCES:
        pulls = [latest.get((source.name, member.person_id)) for member in application.members]
        known = [pull for pull in pulls if pull is not None]
        state = ("pending" if len(known) < len(pulls) else
                 "answered" if all(pull.status.answered for pull in known) else "failed")
        rows.append({"source": source, "state": state, "pulls": list(zip(application.members, pulls, strict=True)),
                     "latency_ms": max((pull.latency_ms for pull in known), default=None),
                     "records": sum(len(pull.payload or []) for pull in known)})
    return rows
