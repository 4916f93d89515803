"""Data collection per application: pull every source for every member, keep the evidence, move the status.

An application leaves `collecting` only when every source has answered (ok or not_found) for every member:
then it is `collected` and assessed at once. Sources that still fail after the retry budget send it to
`manual_verification`, where a registrar sees which sources are missing and retries them. Nothing is ever
assessed from partial data.
"""

from __future__ import annotations

import time

from flask import current_app

from connectors import records as canonical
from connectors.base import income_window
from connectors.registry import connectors_for, fetch_all
from connectors.transport.xroad import user_id_of
from modules.means_test.assessment import assess_safely
from modules.means_test.evidence import latest_pulls, missing_sources
from modules.means_test.facts import application_day
from modules.means_test.models import DataPull, PullStatus
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationStatus
from webapp.extensions import db

S = ApplicationStatus


def collect(application: Application, sources: list[str] | None = None, user=None, probe: bool = False) -> dict:
    """Pull the wanted (default: missing) sources in rounds; finish in collected or manual_verification.

    `probe`: a person asked for this retry, so a source whose circuit breaker is open gets one trial call now
    instead of failing fast until the breaker's wait is over (it may have recovered in the meantime).
    """
    if application.status is not S.collecting:
        return {"skipped": application.status.value}  # idempotent: a second run of the job changes nothing
    members = {member.person.pin: member.person_id for member in application.members}
    window = income_window(application_day(application))
    latest = latest_pulls(application.id)
    wanted = sources or missing_sources(application, latest)
    if probe:
        connectors = connectors_for()
        for name in wanted:
            connectors[name].allow_probe()
    rounds, missing = current_app.config["COLLECTION_ROUNDS"], None
    for round_number in range(rounds):
        if wanted:
            _record(application.id, members, _pull(wanted, _unanswered(application, wanted, latest), window, user))
            db.session.flush()
            latest = latest_pulls(application.id)
        missing = missing_sources(application, latest)
        wanted = [name for name in wanted if name in missing]
        if not wanted:
            break
        if round_number < rounds - 1:
            time.sleep(current_app.config.get("COLLECTION_BACKOFF", 0.5) * 2 ** round_number)
    return finish(application, user, missing)


def _unanswered(application: Application, source_names: list[str], latest: dict) -> list[str]:
    """The PINs of the members some wanted source has not answered for: a retry, or a re-assessment that carries
    the other members' evidence over, asks the registries only about them."""
    return [member.person.pin for member in application.members
            if any((pull := latest.get((name, member.person_id))) is None or not pull.status.answered
                   for name in source_names)]


def _pull(source_names: list[str], pins: list[str], window, user) -> dict:
    """All wanted sources at once (each source limits its own concurrency); one family batch per source."""
    return fetch_all(connectors_for(), source_names, pins, window=window, user_id=user_id_of(user))


def _record(application_id: int, members: dict[str, int], outcomes: dict) -> None:
    """One append-only data_pull row per source and person: the evidence behind any later decision."""
    db.session.add_all(
        DataPull(application_id=application_id, person_id=members[pin], source=source, status=PullStatus(out.status),
                 latency_ms=round(out.latency_ms), attempts=out.attempts, request_id=out.request_id,
                 error=out.error, payload=[canonical.to_json(record) for record in out.records])
        for source, by_pin in outcomes.items() for pin, out in by_pin.items())


def finish(application: Application, user, missing: list[str] | None = None) -> dict:
    """End a collection: `collected` and assessed when every source answered, else manual verification.
    `missing`: the sources still unanswered, when the caller has just worked them out."""
    missing = missing_sources(application) if missing is None else missing
    if missing:
        status_machine.transition(application, S.manual_verification, user,
                                  note="no answer from: " + ", ".join(missing))
    else:
        status_machine.transition(application, S.collected, user)
        assess_safely(application, user)
    return {"status": application.status.value, "missing": missing}
