"""The household facts document of an application (docs/facts.md), built from the evidence it collected.

Only the newest pull per (source, person) counts (`latest_pulls`): a retry supersedes what failed before. Income
lines keep every month the registries returned; the rule engines cut the pack's income window themselves, so
one document serves every pack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from connectors.catalog import SOURCES
from connectors.records import Identity, IncomeLine, RealEstate, Record, Securities, Status, Vehicle, from_json
from modules.means_test.evidence import latest_pulls
from modules.registration.models import Application, ApplicationMember
from rules.facts import validate_facts
from rules.features import disability_group
from webapp.timeutil import local_time

# The employment service's "registered unemployed" counts for the means test as registration in the Single
# National Employment System (a registered member is not an idle able-bodied adult).
_STATUS_NAMES = {"registered_unemployed": "employment_registered"}


def build_facts(application: Application) -> dict:
    """The validated facts document of `application` from its collected data pulls."""
    latest = latest_pulls(application.id)
    day = application_day(application)
    pulls = {member.person_id: _member_pulls(latest, member.person_id) for member in application.members}
    document = {
        "household_id": application.household_id,
        "application_date": day.isoformat(),
        "members": [_member(member, _flatten(pulls[member.person_id]), day) for member in application.members
                    if not _deceased(member, _flatten(pulls[member.person_id]), day)],
        "vehicles": [_vehicle(record) for record in _assets(pulls.values(), Vehicle)],
        "real_estate": [_estate(record) for record in _assets(pulls.values(), RealEstate)],
        "securities_value": _number(sum(record.value for record in _assets(pulls.values(), Securities))),
    }
    return validate_facts(document)


def application_day(application: Application) -> date:
    """The day the application is assessed as of: its `as_of` day when it has one (an appeal is taken as of the
    original application's day), else the country's calendar date of submission (of creation if never submitted)."""
    if application.as_of is not None:
        return application.as_of
    return local_time(application.submitted_at or application.created_at).date()


def _member_pulls(latest: dict, person_id: int) -> list[list[Record]]:
    """The person's records, one list per source in catalog order (so the document's order is stable)."""
    return [[from_json(item) for item in (pull.payload or ())]
            for source in SOURCES if (pull := latest.get((source.name, person_id))) is not None]


def _flatten(groups: Iterable[list[Record]]) -> list[Record]:
    return [record for group in groups for record in group]


def _deceased(member: ApplicationMember, records: list[Record], day: date) -> bool:
    """A member the population register reports dead by the application date is no longer in the household."""
    died = next((r.death_date for r in records if isinstance(r, Identity) and r.pin == member.person.pin), None)
    died = died or member.person.death_date
    return died is not None and died <= day


def _member(member: ApplicationMember, records: list[Record], day: date) -> dict:
    person = member.person
    identity = next((r for r in records if isinstance(r, Identity) and r.pin == person.pin), None)
    active = [r for r in records if isinstance(r, Status) and r.active_on(day)]
    return {
        "pin": person.pin,
        "relation": member.relation.value,
        # The population register is the authority; the person row is a copy that may lag behind it.
        "birth_date": (identity.birth_date if identity else person.birth_date).isoformat(),
        "sex": identity.sex if identity else person.sex.value,
        "income": [_line(r, source=True) for r in records
                   if isinstance(r, IncomeLine) and r.source != "alimony_paid"],
        "alimony_paid": [_line(r) for r in records if isinstance(r, IncomeLine) and r.source == "alimony_paid"],
        "disability_group": _disability_group(active),
        "statuses": sorted({_STATUS_NAMES.get(r.status, r.status) for r in active if r.status != "disability"}),
    }


def _disability_group(active: list[Status]) -> str | None:
    groups = [disability_group(r.group) for r in active if r.status == "disability"]
    # The register keeps one period per person; were two active, "1" (the most severe) sorts first.
    return min(groups) if groups else None


def _line(record: IncomeLine, source: bool = False) -> dict:
    line = {"source": record.source} if source else {}
    return line | {"month": record.month, "amount": _number(record.amount)}


def _assets(pulls: Iterable[list[list[Record]]], kind: type) -> list[Record]:
    """The records of `kind` over every member's pulls; the same record reported by two pulls counts once.

    A union of multisets: a record keeps the largest count any single pull gives it, so a registry that answers
    a family's assets under each member does not multiply them, while one person's two identical cars stay two.
    """
    kept: Counter = Counter()
    result = []
    for group in (group for member in pulls for group in member):
        seen: Counter = Counter()
        for record in (r for r in group if isinstance(r, kind)):
            seen[record] += 1
            if seen[record] > kept[record]:
                kept[record] += 1
                result.append(record)
    return result


def _vehicle(record: Vehicle) -> dict:
    return {"owner_pin": record.owner_pin, "year": record.year, "kind": record.vehicle_kind}


def _estate(record: RealEstate) -> dict:
    return {"owner_pin": record.owner_pin, "kind": record.estate_kind}


def _number(amount: float) -> int | float:
    """Whole amounts as integers: UZS have no fractions in the registries, and the facts read cleanly."""
    return int(amount) if float(amount).is_integer() else amount
