"""The daily alert scans (the `scan_alerts` job): alerts no single event raises, found by looking at the registry.

- Recertification due: an eligible household (its latest assessment eligible) whose active enrolments' period ends
  within LOOKAHEAD_DAYS: the event `recertification_due` (days left, monthly amount). One alert per household and
  period end ("<rule>:household:<id>:<period end>"): the next period, once it nears its end, raises again.
- Stuck in manual verification: an application in manual verification since before today: the event
  `verification_stuck` with the working days it has waited (weekends and SRSP_PUBLIC_HOLIDAYS skipped). One alert
  per stay in that status ("<rule>:application:<id>:<event id>", the timeline entry it entered by), to the
  registrar of the application's area (the category's role).

Each scan is set-based: one query finds the candidates (grouped in the database, never a query per household),
one query per batch of keys finds the alerts already raised, and only the candidates still without their alert go
through the pack's alert rules (rules/alerts.py) and `raise_alert`. Run twice on one day, the second run raises
nothing. Flushes and audits; the job's unit of work commits.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from modules.grievances import sla
from modules.grievances.alerts import _language, _pack, raise_alert
from modules.grievances.models import Case
from rules.alerts import matching
from webapp import audit
from webapp.extensions import db
from webapp.timeutil import local_day_start, local_time, local_today

LOOKAHEAD_DAYS = 30  # an entitlement ending within this many days is due for recertification
BATCH = 1000  # source keys looked up per query


def _raised(keys: list[str]) -> set[str]:
    """Those of `keys` an alert was raised for already."""
    found: set[str] = set()
    for start in range(0, len(keys), BATCH):
        found.update(db.session.scalars(select(Case.source_key).where(Case.source_key.in_(keys[start:start + BATCH]))))
    return found


def _rule_ids(pack, kind: str) -> list[str]:
    return [rule.id for rule in pack.alerts if rule.event == kind]


def _scan(kind: str, candidates: list[tuple[str, dict, dict]], open_alert) -> int:
    """Raise the alerts of `candidates` [(key suffix, event values, context)] not raised yet; returns how many.

    `open_alert(rule, source_key, event, context, handlers)` opens one case through `raise_alert`."""
    pack = _pack()
    ids = _rule_ids(pack, kind)
    if not ids or not candidates:
        return 0
    raised = _raised([f"{rule_id}:{suffix}" for suffix, _event, _context in candidates for rule_id in ids])
    handlers: dict = {}  # the handler per area and role: one look-up per area, not per alert
    count = 0
    with audit.appending_in_bulk():
        for suffix, values, context in candidates:
            if all(f"{rule_id}:{suffix}" in raised for rule_id in ids):
                continue
            event = {"kind": kind, **values}
            for rule in matching(pack, event):
                source_key = f"{rule.id}:{suffix}"
                if source_key not in raised and open_alert(rule, source_key, event, context, handlers) is not None:
                    count += 1
    return count


# --- recertification due ---------------------------------------------------------------------------------------


def recertification_candidates(today: date) -> list[tuple[str, dict, dict]]:
    """Eligible households whose active enrolments end (the latest of them) from today to LOOKAHEAD_DAYS ahead."""
    from modules.enrolment.models import Enrolment, EnrolmentStatus
    from modules.means_test.models import Assessment, Decision
    from modules.registration.models import Household

    horizon = today + timedelta(days=LOOKAHEAD_DAYS)
    ends = (select(Enrolment.household_id, func.max(Enrolment.period_end).label("period_end"),
                   func.sum(Enrolment.monthly_amount).label("amount"))
            .where(Enrolment.status == EnrolmentStatus.active).group_by(Enrolment.household_id)
            .having(func.max(Enrolment.period_end) >= today, func.max(Enrolment.period_end) <= horizon).subquery())
    latest = (select(Assessment.household_id, func.max(Assessment.id).label("id"))
              .where(Assessment.household_id.in_(select(ends.c.household_id))).group_by(Assessment.household_id)
              .subquery())
    rows = db.session.execute(
        select(ends.c.household_id, ends.c.period_end, ends.c.amount, Household.area_id)
        .join(Household, Household.id == ends.c.household_id)
        .join(latest, latest.c.household_id == ends.c.household_id)
        .join(Assessment, Assessment.id == latest.c.id)
        .where(Assessment.decision == Decision.eligible).order_by(ends.c.household_id)).all()
    candidates = []
    for household_id, period_end, amount, area_id in rows:
        period_end = period_end if isinstance(period_end, date) else date.fromisoformat(str(period_end))
        candidates.append((f"household:{household_id}:{period_end.isoformat()}",
                           {"days_left": (period_end - today).days, "monthly_amount": float(amount or 0)},
                           {"household_id": household_id, "area_id": area_id, "period_end": period_end}))
    return candidates


def scan_recertification_due(today: date | None = None) -> int:
    """Raise the recertification-due alerts not raised yet; returns how many were raised."""
    today = today or local_today()

    def open_alert(rule, source_key, event, context, handlers):
        facts = _("The household's benefits end on %(date)s.", date=context["period_end"].strftime("%d.%m.%Y"))
        return raise_alert(rule, source_key, context["area_id"], f"{facts}\n{rule.action_text(_language())}",
                           {**event, "period_end": context["period_end"].isoformat()}, handlers=handlers,
                           known_new=True, household_id=context["household_id"])

    return _scan("recertification_due", recertification_candidates(today), open_alert)


# --- stuck in manual verification ------------------------------------------------------------------------------


def verification_candidates(today: date, public_holidays: frozenset[date] | None = None
                            ) -> list[tuple[str, dict, dict]]:
    """Applications in manual verification since before today, with the working days they have waited."""
    from modules.registration.models import Application, ApplicationEvent, ApplicationStatus

    waiting = ApplicationStatus.manual_verification
    entered = (select(ApplicationEvent.application_id, func.max(ApplicationEvent.id).label("event_id"))
               .where(ApplicationEvent.to_status == waiting.value,
                      ApplicationEvent.application_id.in_(select(Application.id).where(Application.status == waiting)))
               .group_by(ApplicationEvent.application_id).subquery())
    rows = db.session.execute(
        select(Application.id, Application.period, Application.area_id, Application.household_id,
               Application.applicant_id, ApplicationEvent.id, ApplicationEvent.at)
        .join(entered, entered.c.application_id == Application.id)
        .join(ApplicationEvent, ApplicationEvent.id == entered.c.event_id)
        .where(ApplicationEvent.at < local_day_start(today)).order_by(Application.id)).all()
    holidays = sla.holidays() if public_holidays is None else public_holidays
    candidates = []
    for application_id, period, area_id, household_id, applicant_id, event_id, at in rows:
        since = local_time(at).date()
        candidates.append((f"application:{application_id}:{event_id}",
                           {"working_days": sla.working_days_between(since, today, holidays)},
                           {"application_id": application_id, "reference": f"A-{period.replace('-', '')}-"
                            f"{application_id:06d}", "area_id": area_id, "household_id": household_id,
                            "applicant_id": applicant_id, "since": since}))
    return candidates


def scan_stuck_verification(today: date | None = None) -> int:
    """Raise the stuck-verification alerts not raised yet; returns how many were raised."""
    today = today or local_today()

    def open_alert(rule, source_key, event, context, handlers):
        days = int(event["working_days"])
        facts = ngettext("Application %(reference)s has been in manual verification since %(date)s "
                         "(%(num)d working day).",
                         "Application %(reference)s has been in manual verification since %(date)s "
                         "(%(num)d working days).", days, reference=context["reference"],
                         date=context["since"].strftime("%d.%m.%Y"))
        return raise_alert(rule, source_key, context["area_id"], f"{facts}\n{rule.action_text(_language())}",
                           {**event, "since": context["since"].isoformat()}, handlers=handlers, known_new=True,
                           application_id=context["application_id"], household_id=context["household_id"],
                           person_id=context["applicant_id"])

    return _scan("verification_stuck", verification_candidates(today), open_alert)


def scan_alerts(today: date | None = None) -> dict[str, int]:
    """Both daily scans; returns the alerts raised by each."""
    today = today or local_today()
    return {"recertification_due": scan_recertification_due(today),
            "verification_stuck": scan_stuck_verification(today)}
