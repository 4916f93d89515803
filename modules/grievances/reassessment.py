"""Re-assessing a household from a case: a change of circumstances, or an appeal against a decision.

A change (a birth, a death, a member moving in or out, a new job or income): the household's membership changes
through registration's operations, a re-assessment application carries the unaffected members' evidence over and
asks the registries about the affected ones only, the rule pack version in force today decides. An appeal: a
reviewer other than the people who handled the application takes the decision again with the members and the day
of the original application (so the pack version then in force), with the registries asked again when the
reviewer wants fresh data. Either way the new assessment sits beside the old one, and nothing follows for the
enrolments until a person confirms (`plan_for` shows what will, `confirm` does it): an overturned refusal enrols
the household from the month after the original decision and owes the months missed, paid once by the next
payroll. The citizen is told by SMS. Operations flush and audit; they never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.enrolment import following
from modules.grievances.models import (
    OPEN_REASSESSMENT,
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CaseKind,
    CaseStatus,
    Reassessment,
    ReassessmentOutcome,
    ReassessmentPurpose,
    ReassessmentStatus,
)
from modules.means_test.evidence import carry_over
from modules.means_test.facts import application_day
from modules.means_test.models import Assessment, Decision, ManualEntry
from modules.means_test.operations import start_collection
from modules.registration.membership import Joining, change_members, current_members, open_reassessment
from modules.registration.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Household,
    Person,
    Purpose,
    Relation,
)
from modules.registration.operations import ADULT_AGE
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.timeutil import age_on, local_time, utcnow

R = ReassessmentStatus
CHANGE_KINDS = ("birth", "death", "moved_in", "moved_out", "income")
JOINING_KINDS = ("birth", "moved_in")
LEAVING_KINDS = ("death", "moved_out")


class ReassessmentRefused(Refusal):
    """A re-assessment that cannot start or be confirmed as things stand; nothing was changed."""


@dataclass(frozen=True)
class Change:
    kind: str
    person: Person
    relation: Relation | None
    on: date

    def as_json(self) -> dict:
        return {"kind": self.kind, "pin": self.person.pin, "name": self.person.full_name,
                "relation": self.relation.value if self.relation else None, "date": self.on.isoformat()}


@dataclass(frozen=True)
class Composition:
    """The household before and after the changes, and whom the registries will be asked about."""

    before: list[tuple[Person, Relation]]
    after: list[tuple[Person, Relation]]
    asked: list[Person]
    applicant: Person | None


# --- reading --------------------------------------------------------------------------------------------------


def latest_assessment(household_id: int) -> Assessment | None:
    return db.session.scalar(select(Assessment).where(Assessment.household_id == household_id)
                             .order_by(Assessment.id.desc()).limit(1))


def of_case(case: Case) -> list[Reassessment]:
    return list(db.session.scalars(select(Reassessment).where(Reassessment.case_id == case.id)
                                   .order_by(Reassessment.id)))


def current(case: Case) -> Reassessment | None:
    return db.session.scalar(select(Reassessment).where(Reassessment.case_id == case.id,
                                                        Reassessment.status.in_(OPEN_REASSESSMENT)))


def new_assessment(reassessment: Reassessment) -> Assessment | None:
    if reassessment.application_id is None:
        return None
    return db.session.scalar(select(Assessment).where(Assessment.application_id == reassessment.application_id)
                             .order_by(Assessment.id.desc()).limit(1))


def can_change(case: Case) -> bool:
    return case.is_open and case.household_id is not None and case.kind in (CaseKind.update, CaseKind.alert)


def can_appeal(case: Case) -> bool:
    return case.is_open and case.kind is CaseKind.appeal and case.application_id is not None


# --- a change of circumstances --------------------------------------------------------------------------------


def composition(case: Case, changes: list[Change]) -> Composition:
    """The household as it is and as it will be after `changes` (refused when they do not fit it)."""
    household = _household(case)
    before = [(member.person, member.relation) for member in current_members(household)]
    present = {person.id for person, _relation in before}
    leaving = {change.person.id for change in changes if change.kind in LEAVING_KINDS}
    for change in changes:
        if change.kind in JOINING_KINDS and change.person.id in present:
            raise ReassessmentRefused(_l("%(name)s is already a member of this household.",
                                         name=change.person.full_name))
        if change.kind not in JOINING_KINDS and change.person.id not in present:
            raise ReassessmentRefused(_l("%(name)s is not a member of this household.", name=change.person.full_name))
    after = [(person, relation) for person, relation in before if person.id not in leaving]
    after += [(change.person, change.relation) for change in changes if change.kind in JOINING_KINDS]
    if not after:
        raise ReassessmentRefused(_l("No one would be left in the household: close its benefits instead."))
    asked = [change.person for change in changes if change.kind in JOINING_KINDS or change.kind == "income"]
    return Composition(before, after, asked, _applicant(case, after))


def record_change(case: Case, changes: list[Change], actor) -> Reassessment:
    """Change the household, then start its re-assessment (collection runs as a job)."""
    if not can_change(case):
        raise ReassessmentRefused(_l("Changes of circumstances are recorded on an open case about a household."))
    _refuse_if_running(case)
    previous = latest_assessment(case.household_id)
    if previous is None:
        raise ReassessmentRefused(_l("This household has never been assessed: register an application instead."))
    shape = composition(case, changes)
    if shape.applicant is None:
        raise ReassessmentRefused(_l("No adult would be left in the household to receive the benefit."))
    household = _household(case)
    on = max(change.on for change in changes)
    change_members(household, [Joining(c.person, c.relation) for c in changes if c.kind in JOINING_KINDS],
                   [c.person for c in changes if c.kind in LEAVING_KINDS], on, actor)
    application = open_reassessment(household, shape.applicant, shape.after, previous.application, Purpose.change,
                                    None, actor)
    asked = {person.id for person in shape.asked}
    carry_over(previous.application_id, application.id,
               [person.id for person, _relation in shape.after if person.id not in asked])
    reassessment = _start(case, ReassessmentPurpose.change, previous, application,
                          [change.as_json() for change in changes], actor, refreshed=False)
    _note(case, actor, _("Change of circumstances recorded: %(changes)s. The household is being re-assessed.",
                         changes="; ".join(describe(change.as_json()) for change in changes)))
    return reassessment


def describe(change: dict) -> str:
    """One recorded change in words."""
    words = {"birth": _("birth of %(name)s"), "death": _("death of %(name)s"),
             "moved_in": _("%(name)s moved in"), "moved_out": _("%(name)s moved out"),
             "income": _("new job or income of %(name)s")}
    return words[change["kind"]] % {"name": change["name"]} + f" ({date.fromisoformat(change['date']):%d.%m.%Y})"


# --- an appeal ------------------------------------------------------------------------------------------------


def handlers_of(application: Application) -> set[int]:
    """The staff who handled an application: who registered it, moved it, entered or confirmed its records."""
    ids = {application.created_by_id}
    ids |= set(db.session.scalars(select(ApplicationEvent.actor_id).where(
        ApplicationEvent.application_id == application.id)))
    for entry in db.session.scalars(select(ManualEntry).where(ManualEntry.application_id == application.id)):
        ids |= {entry.entered_by_id, entry.decided_by_id}
    return {user_id for user_id in ids if user_id is not None}


def start_appeal_review(case: Case, actor, refresh: bool) -> Reassessment:
    """Take the appealed decision again, as of the original application's day, with its members."""
    if not can_appeal(case):
        raise ReassessmentRefused(_l("Only an open appeal about an application can re-run its decision."))
    _refuse_if_running(case)
    original = db.session.get(Application, case.application_id)
    if original.status is not ApplicationStatus.decided:
        raise ReassessmentRefused(_l("The application %(ref)s has not been decided yet: there is nothing to review.",
                                     ref=original.reference))
    if actor.id in handlers_of(original):
        raise ReassessmentRefused(_l("You handled the application %(ref)s: its appeal must be reviewed by someone "
                                     "else.", ref=original.reference))
    previous = db.session.scalar(select(Assessment).where(Assessment.application_id == original.id)
                                 .order_by(Assessment.id.desc()).limit(1))
    members = [(member.person, member.relation) for member in original.members]
    application = open_reassessment(original.household, original.applicant, members, original, Purpose.appeal,
                                    application_day(original), actor)
    if not refresh:
        carry_over(original.id, application.id, [person.id for person, _relation in members])
    reassessment = _start(case, ReassessmentPurpose.appeal, previous, application, [], actor, refreshed=refresh)
    _note(case, actor, _("The decision is being taken again as of %(date)s, with %(data)s.",
                         date=f"{application.as_of:%d.%m.%Y}",
                         data=_("registry data asked for again") if refresh else _("the registry data it had")))
    return reassessment


# --- both -----------------------------------------------------------------------------------------------------


def _start(case: Case, purpose: ReassessmentPurpose, previous: Assessment | None, application: Application,
           changes: list, actor, refreshed: bool) -> Reassessment:
    reassessment = Reassessment(case_id=case.id, purpose=purpose, household_id=application.household_id,
                                previous_assessment_id=previous.id if previous else None,
                                application_id=application.id, changes=changes, status=R.collecting,
                                refreshed=refreshed, created_by_id=actor.id)
    db.session.add(reassessment)
    db.session.flush()
    audit.record("case.reassessment_started", "case", case.id,
                 {"reassessment": reassessment.id, "purpose": purpose.value, "application_id": application.id,
                  "changes": len(changes), "refreshed": refreshed}, actor=actor)
    if case.status in (CaseStatus.new, CaseStatus.assigned):
        from modules.grievances.operations import transition

        transition(case, CaseStatus.in_progress, actor)
    start_collection(application, actor)
    return reassessment


def on_decided(application: Application, assessment: Assessment) -> None:
    """The re-assessment application was decided: the new assessment waits for a person to confirm it."""
    reassessment = db.session.scalar(select(Reassessment).where(Reassessment.application_id == application.id,
                                                                Reassessment.status == R.collecting))
    if reassessment is None:
        return
    reassessment.status = R.assessed
    reassessment.case.events.append(CaseEvent(kind=CaseEventKind.note, public=False, text=_(
        "The new assessment is ready: confirm what follows for the household's benefits.")))
    db.session.flush()
    audit.record("case.reassessment_ready", "case", reassessment.case_id,
                 {"reassessment": reassessment.id, "assessment": assessment.id,
                  "decision": assessment.decision.value})


def outcome_of(reassessment: Reassessment) -> ReassessmentOutcome | None:
    """What confirming would mean: a change is recalculated; an appeal is overturned when a refusal became a
    grant, else the original decision stands. None while the new assessment is not there."""
    new = new_assessment(reassessment)
    if new is None or reassessment.status is not R.assessed:
        return None
    if reassessment.purpose is ReassessmentPurpose.change:
        return ReassessmentOutcome.recalculated
    old = db.session.get(Assessment, reassessment.previous_assessment_id) if reassessment.previous_assessment_id \
        else None
    refused_before = old is None or old.decision is not Decision.eligible
    if refused_before and new.decision is Decision.eligible:
        return ReassessmentOutcome.overturned
    return ReassessmentOutcome.stands


def first_month(reassessment: Reassessment) -> date | None:
    """An overturned refusal is paid from the month after the original decision."""
    if outcome_of(reassessment) is not ReassessmentOutcome.overturned or not reassessment.previous_assessment_id:
        return None
    decided = local_time(db.session.get(Assessment, reassessment.previous_assessment_id).created_at).date()
    index = decided.year * 12 + decided.month  # the month after, 0-based
    return date(index // 12, index % 12 + 1, 1)


def plan_for(reassessment: Reassessment, today: date) -> following.Plan | None:
    """What confirming would do to the enrolments (an appeal whose decision stands changes nothing)."""
    new = new_assessment(reassessment)
    outcome = outcome_of(reassessment)
    if new is None or outcome is None or outcome is ReassessmentOutcome.stands:
        return None
    return following.plan(new, today, first_month(reassessment))


def confirm(reassessment: Reassessment, today: date, actor) -> ReassessmentOutcome:
    """Make the enrolments follow the new assessment, owe the months an overturned refusal missed, tell the
    citizen, and resolve an appeal's case."""
    outcome = outcome_of(reassessment)
    if outcome is None:
        raise ReassessmentRefused(_l("The new assessment is not ready yet."))
    case = reassessment.case
    new = new_assessment(reassessment)
    owed = 0
    if outcome is not ReassessmentOutcome.stands:
        reason = _reason(reassessment, case)
        start = first_month(reassessment)
        following.follow(new, today, reason, actor, start)
        if start is not None:
            owed = _owe_missed_months(new, today, reason, actor)
    reassessment.status, reassessment.outcome = R.confirmed, outcome
    reassessment.confirmed_by_id, reassessment.confirmed_at = actor.id, utcnow()
    db.session.flush()
    audit.record("case.reassessment_confirmed", "case", case.id,
                 {"reassessment": reassessment.id, "outcome": outcome.value, "assessment": new.id,
                  "months_owed": owed}, actor=actor)
    _tell_citizen(reassessment, case, new, outcome)
    if reassessment.purpose is ReassessmentPurpose.appeal:
        from modules.grievances.operations import transition

        decision = CaseDecision.upheld if outcome is ReassessmentOutcome.overturned else CaseDecision.rejected
        transition(case, CaseStatus.resolved, actor, decision=decision, resolution=_appeal_resolution(outcome, new))
    return outcome


def discard(reassessment: Reassessment, actor) -> None:
    """Drop a re-assessment (the household's changes stay recorded); its application is withdrawn if still open."""
    if reassessment.status not in (R.collecting, R.assessed):
        raise ReassessmentRefused(_l("This re-assessment is already finished."))
    application = db.session.get(Application, reassessment.application_id)
    if application is not None and application.is_open:
        from modules.registration.operations import withdraw

        withdraw(application, actor, _("Re-assessment discarded by the case worker."))
    reassessment.status = R.discarded
    db.session.flush()
    audit.record("case.reassessment_discarded", "case", reassessment.case_id, {"reassessment": reassessment.id},
                 actor=actor)


def _owe_missed_months(assessment: Assessment, today: date, reason: str, actor) -> int:
    from modules.enrolment.operations import enrolments_of
    from modules.payments.arrears import owe_missed_months

    through = f"{today:%Y-%m}"
    return sum(len(owe_missed_months(enrolment, through, reason, actor)) for enrolment in enrolments_of(assessment.id))


def _reason(reassessment: Reassessment, case: Case) -> str:
    if reassessment.purpose is ReassessmentPurpose.appeal:
        return _("Appeal %(number)s: the decision was overturned.", number=case.tracking_number)
    return _("Re-assessed after a change of circumstances (case %(number)s).", number=case.tracking_number)


def _appeal_resolution(outcome: ReassessmentOutcome, new: Assessment) -> str:
    if outcome is ReassessmentOutcome.overturned:
        return _("The decision was taken again and the household is entitled: it is enrolled from the month after "
                 "the original decision, and the months missed are paid with the next payroll.")
    return _("The decision was taken again with the rules in force on the application date and stands.")


def _tell_citizen(reassessment: Reassessment, case: Case, new: Assessment, outcome: ReassessmentOutcome) -> None:
    from modules.grievances.operations import _sms

    phone = case.complainant_phone or new.application.phone
    number = case.tracking_number
    if outcome is ReassessmentOutcome.overturned:
        body = lambda: _("Your appeal %(number)s was upheld: the household is entitled from the month after the first "  # noqa: E731
                         "decision, and the months missed are paid with the next payment.", number=number)
    elif outcome is ReassessmentOutcome.stands:
        return  # the case's resolution tells the citizen (operations.transition)
    elif new.decision is Decision.eligible:
        body = lambda: _("Your household's benefit was recalculated after the change in the family (case %(number)s): "  # noqa: E731
                         "%(amount)s a month from next month.", number=number,
                         amount=f"{new.monthly_total:,.2f}".replace(",", " "))
    else:
        body = lambda: _("After the change in the family (case %(number)s) the household is no longer entitled: "  # noqa: E731
                         "the benefit stops at the end of this month.", number=number)
    _sms(case, "reassessed", body, phone=phone, occurrence=reassessment.id)


def _refuse_if_running(case: Case) -> None:
    if current(case) is not None:
        raise ReassessmentRefused(_l("A re-assessment of this case is already in progress: confirm or discard it "
                                     "first."))


def _household(case: Case) -> Household:
    if case.household_id is None:
        raise ReassessmentRefused(_l("This case is not about a household."))
    return db.session.get(Household, case.household_id)


def _applicant(case: Case, after: list[tuple[Person, Relation]]) -> Person | None:
    """Who the re-assessment is made for: the last applicant while still a member, else the head, else the oldest
    adult (the payee of what follows)."""
    previous = latest_assessment(case.household_id)
    people = [person for person, _relation in after]
    if previous is not None and previous.application.applicant in people:
        return previous.application.applicant
    head = next((person for person, relation in after if relation is Relation.head), None)
    if head is not None:
        return head
    today = utcnow().date()
    adults = sorted((p for p in people if age_on(p.birth_date, today) >= ADULT_AGE), key=lambda p: p.birth_date)
    return adults[0] if adults else None


def _note(case: Case, actor, text: str) -> None:
    case.events.append(CaseEvent(kind=CaseEventKind.note, actor_id=actor.id, text=text, public=False))
    db.session.flush()
