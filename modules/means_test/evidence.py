"""What an application knows: the newest pull per source and member, and which sources have not answered."""

from __future__ import annotations

from sqlalchemy import select

from connectors.catalog import SOURCES
from modules.means_test.models import DataPull, ManualEntry, ManualEntryStatus
from modules.registration.models import Application
from webapp.extensions import db


def latest_pulls(application_id: int) -> dict[tuple[str, int], DataPull]:
    """The newest pull per (source, person): what the application currently knows."""
    pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application_id)
                               .order_by(DataPull.id)).all()
    return {(pull.source, pull.person_id): pull for pull in pulls}


def carry_over(from_application_id: int, to_application_id: int, person_ids: list[int]) -> int:
    """Copy what an earlier application knows about `person_ids` (its newest answered pull per source and person)
    into a re-assessment, as evidence of that time: only the others are asked again. Returns the pulls copied."""
    latest = latest_pulls(from_application_id)
    wanted = set(person_ids)
    copies = [DataPull(application_id=to_application_id, person_id=pull.person_id, source=pull.source,
                       status=pull.status, fetched_at=pull.fetched_at, latency_ms=pull.latency_ms,
                       attempts=pull.attempts, request_id=pull.request_id, error=pull.error, payload=pull.payload,
                       manual_entry_id=pull.manual_entry_id)
              for (_source, person_id), pull in sorted(latest.items()) if person_id in wanted and pull.status.answered]
    db.session.add_all(copies)
    db.session.flush()
    return len(copies)


def missing_sources(application: Application, latest: dict | None = None) -> list[str]:
    latest = latest_pulls(application.id) if latest is None else latest
    return [source.name for source in SOURCES if not all(
        (pull := latest.get((source.name, member.person_id))) is not None and pull.status.answered
        for member in application.members)]


def source_table(application: Application) -> list[dict]:
    """Per source: overall state, slowest latency, records per member — for the application page — with the
    records entered by hand: those the current evidence comes from, and those waiting for confirmation."""
    latest = latest_pulls(application.id)
    entries = {entry.id: entry for entry in db.session.scalars(
        select(ManualEntry).where(ManualEntry.application_id == application.id).order_by(ManualEntry.id))}
    rows = []
    for source in SOURCES:
        pulls = [latest.get((source.name, member.person_id)) for member in application.members]
        known = [pull for pull in pulls if pull is not None]
        state = ("pending" if len(known) < len(pulls) else
                 "answered" if all(pull.status.answered for pull in known) else "failed")
        by_hand = sorted({pull.manual_entry_id for pull in known if pull.manual_entry_id is not None})
        rows.append({"source": source, "state": state, "pulls": list(zip(application.members, pulls, strict=True)),
                     "latency_ms": max((pull.latency_ms for pull in known if pull.manual_entry_id is None),
                                       default=None),
                     "records": sum(len(pull.payload or []) for pull in known),
                     "by_hand": [entries[entry_id] for entry_id in by_hand if entry_id in entries],
                     "waiting": [entry for entry in entries.values()
                                 if entry.source == source.name and entry.status is ManualEntryStatus.pending]})
    return rows
