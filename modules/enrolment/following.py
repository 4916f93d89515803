"""Enrolments following a household's new assessment (a change of circumstances, an appeal): what would start and
what would stop, shown to a person first (`plan`), then done (`follow`).

- Eligible: every programme and beneficiary the assessment grants is enrolled (a newborn for the child allowance),
  from the month after the decision, or from `first_month` (an overturned refusal). The same person's enrolment
  in the same programme is superseded; the household's other enrolments stop.
- Ineligible: every enrolment of the household stops.

An enrolment that stops is paid to the end of the current month (its period is cut there and it stays active
until then); a suspended one (a death) is ended at once. Operations flush and audit; they never commit.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from modules.enrolment import status as machine
from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.enrolment.operations import beneficiaries, enrol_from_assessment, period_for
from modules.means_test.models import Assessment
from modules.registration.models import Person
from webapp import audit
from webapp.extensions import db
from webapp.models import Programme

S = EnrolmentStatus


@dataclass(frozen=True)
class Starting:
    programme: Programme
    beneficiary: Person
    monthly_amount: Decimal
    period_start: date
    period_end: date
    replaces: Enrolment | None  # the same person's enrolment in the same programme, superseded


@dataclass(frozen=True)
class Stopping:
    enrolment: Enrolment
    last_day: date  # the last day paid


@dataclass
class Plan:
    starting: list[Starting] = field(default_factory=list)
    stopping: list[Stopping] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not self.starting and not self.stopping


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def live_enrolments(household_id: int) -> list[Enrolment]:
    return list(db.session.scalars(select(Enrolment).where(Enrolment.household_id == household_id,
                                                           Enrolment.status != S.ended).order_by(Enrolment.id)))


def plan(assessment: Assessment, today: date, first_month: date | None = None) -> Plan:
    """What `follow` would do for the household of `assessment`; nothing is written."""
    live = live_enrolments(assessment.household_id)
    by_key = {(enrolment.beneficiary_person_id, enrolment.programme_id): enrolment for enrolment in live}
    codes = {item[0] for item in beneficiaries(assessment)}
    programmes = {p.code: p for p in db.session.scalars(select(Programme).where(Programme.code.in_(codes)))}
    result, kept = Plan(), set()
    for code, person, amount, months in beneficiaries(assessment):
        start, end = period_for(assessment, months, first_month)
        replaces = by_key.get((person.id, programmes[code].id))
        if replaces is not None:
            kept.add(replaces.id)
        result.starting.append(Starting(programmes[code], person, amount, start, end, replaces))
    last_day = month_end(today)
    result.stopping = [Stopping(enrolment, min(enrolment.period_end, last_day)) for enrolment in live
                       if enrolment.id not in kept]
    return result


def follow(assessment: Assessment, today: date, reason: str, actor=None,
           first_month: date | None = None) -> Plan:
    """Do what `plan` shows: stop the enrolments the assessment no longer carries, enrol what it grants."""
    planned = plan(assessment, today, first_month)
    for item in planned.stopping:
        _stop(item, reason, actor)
    enrol_from_assessment(assessment, actor, first_month)
    return planned


def _stop(item: Stopping, reason: str, actor) -> None:
    enrolment = item.enrolment
    if enrolment.status is S.suspended or item.last_day < enrolment.period_start:
        enrolment.period_end = max(enrolment.period_start, min(enrolment.period_end, item.last_day))
        machine.transition(enrolment, S.ended, reason, actor)
    elif item.last_day < enrolment.period_end:
        enrolment.period_end = item.last_day
        enrolment.status_reason = reason[:500]
        audit.record("enrolment.shortened", "enrolment", enrolment.id,
                     {"period_end": item.last_day.isoformat(), "reason": reason[:500]}, actor=actor)
    db.session.flush()
