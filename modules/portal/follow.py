"""What a citizen reads of their household: its applications, one application's timeline in plain words, its
decision with the reasons the assessment's trace gives, the payments, the cases; each id checked to be theirs.

Ownership: a citizen sees the records of the household the register lists them in now. Anything else, an id of
another household included, is "not found" (the page does not say that it exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from modules.enrolment.models import BankAccount, Enrolment
from modules.grievances.models import Case
from modules.means_test.evidence import source_table
from modules.means_test.explain import explain, latest_assessment
from modules.means_test.models import Assessment, Decision
from modules.means_test.recertification import period_end
from modules.payments.models import PayrollLine
from modules.portal.apply import household_of
from modules.registration.models import Application, ApplicationStatus, Person
from webapp.extensions import db
from webapp.formatting import money

S = ApplicationStatus

# An application's status as a citizen says it.
STATUS_WORDS = {
    S.draft: _l("Not sent yet"),
    S.submitted: _l("Received"),
    S.collecting: _l("Your data is being collected"),
    S.collected: _l("Data collected, being assessed"),
    S.manual_verification: _l("Waiting for documents to be checked by staff"),
    S.assessed: _l("Assessed, the decision is being recorded"),
    S.decided: _l("Decided"),
    S.withdrawn: _l("Withdrawn"),
}
LINE_WORDS = {
    "included": _l("being paid"),
    "excluded": _l("not paid this month"),
    "paid": _l("paid to your account"),
    "failed": _l("the payment failed"),
    "returned": _l("returned by the bank"),
}
CASE_WORDS = {
    "new": _l("registered"),
    "assigned": _l("given to a social worker"),
    "in_progress": _l("being handled"),
    "waiting_citizen": _l("waiting for you"),
    "waiting_other": _l("waiting for another office"),
    "resolved": _l("answered"),
    "closed": _l("closed, nothing more to do"),
}
SOURCE_WORDS = {"answered": _l("answered"), "failed": _l("did not answer yet"), "pending": _l("not asked yet")}


def status_words(status) -> str:
    return str(STATUS_WORDS.get(ApplicationStatus(status), status))


def case_words(status) -> str:
    value = getattr(status, "value", status)
    return str(CASE_WORDS.get(value, value))


def line_words(status) -> str:
    value = getattr(status, "value", status)
    return str(LINE_WORDS.get(value, value))


# --- what is the citizen's ---------------------------------------------------------------------------------------


def applications_of(citizen: Person) -> list[Application]:
    household_id = household_of(citizen)
    if household_id is None:
        return []
    return list(db.session.scalars(select(Application).where(Application.household_id == household_id)
                                   .order_by(Application.id.desc())))


def own_application(citizen: Person, application_id: int) -> Application | None:
    household_id = household_of(citizen)
    if household_id is None:
        return None
    return db.session.scalar(select(Application).where(Application.id == application_id,
                                                       Application.household_id == household_id))


def own_line(citizen: Person, line_id: int) -> PayrollLine | None:
    household_id = household_of(citizen)
    if household_id is None:
        return None
    return db.session.scalar(select(PayrollLine).join(Enrolment, Enrolment.id == PayrollLine.enrolment_id)
                             .where(PayrollLine.id == line_id, Enrolment.household_id == household_id))


def own_case(citizen: Person, case_id: int) -> Case | None:
    household_id = household_of(citizen)
    if household_id is None:
        return None
    return db.session.scalar(select(Case).where(Case.id == case_id, Case.household_id == household_id,
                                                Case.kind.in_(("appeal", "grievance", "enquiry"))))


def cases_of(citizen: Person) -> list[Case]:
    household_id = household_of(citizen)
    if household_id is None:
        return []
    return list(db.session.scalars(select(Case).where(Case.household_id == household_id,
                                                      Case.kind.in_(("appeal", "grievance", "enquiry")))
                                   .order_by(Case.id.desc())))


def public_events(case: Case) -> list:
    return [event for event in case.events if event.public]


# --- one application ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    when: date | datetime | None
    title: str
    details: list[str] = field(default_factory=list)
    state: str = "done"  # done | bad | waiting
    line: PayrollLine | None = None


def _event_at(application: Application, status: ApplicationStatus) -> datetime | None:
    return next((event.at for event in application.events if event.to_status == status.value), None)


def timeline(application: Application) -> list[Step]:
    """Received, data collected, decided, enrolled, account opened, each payment, next recertification."""
    steps = [Step(application.submitted_at or application.created_at, _("Application received"),
                  [_("Reference %(ref)s.", ref=application.reference)])]
    steps.append(_collected(application))
    assessment = latest_assessment(application.id) if application.status is S.decided else None
    if application.status is S.withdrawn:
        steps.append(Step(_event_at(application, S.withdrawn), _("Application withdrawn")))
        return steps
    if assessment is None:
        steps.append(Step(None, _("Decision"), [status_words(application.status)], "waiting"))
        return steps
    eligible = assessment.decision is Decision.eligible
    steps.append(Step(_event_at(application, S.decided) or assessment.created_at,
                      _("Decided: eligible") if eligible else _("Decided: not eligible"),
                      [_("Total per month: %(amount)s", amount=money(assessment.monthly_total))] if eligible else [],
                      "done" if eligible else "bad"))
    enrolments = list(db.session.scalars(select(Enrolment).where(Enrolment.application_id == application.id)
                                         .order_by(Enrolment.id)))
    for enrolment in enrolments:
        steps.append(Step(enrolment.created_at, _("Enrolled in %(programme)s", programme=enrolment.programme.name),
                          [_("%(amount)s a month for %(beneficiary)s, from %(start)s to %(end)s",
                             amount=money(enrolment.monthly_amount), beneficiary=enrolment.beneficiary.full_name,
                             start=_month(enrolment.period_start), end=_month(enrolment.period_end))]))
    steps.extend(_accounts(enrolments))
    steps.extend(_payments(enrolments))
    if eligible and assessment.programmes:
        year, month = period_end(assessment)
        again = date(year, month, 1)
        steps.append(Step(again, _("Next check of your eligibility"),
                          [_("Your family's situation is checked again in %(month)s.", month=_month(again))],
                          "waiting"))
    return steps


def _collected(application: Application) -> Step:
    if application.status in (S.draft, S.submitted):
        return Step(None, _("Data from the registries"), [_("Not asked yet.")], "waiting")
    rows = source_table(application)
    details = [_("%(source)s: %(state)s", source=_(row["source"].title), state=SOURCE_WORDS[row["state"]])
               for row in rows]
    done = all(row["state"] == "answered" for row in rows)
    at = _event_at(application, S.collected) if done else None
    return Step(at, _("Data collected from the registries") if done else _("Data being collected from the registries"),
                details, "done" if done else "waiting")


def _accounts(enrolments: list[Enrolment]) -> list[Step]:
    ids = {enrolment.bank_account_id for enrolment in enrolments if enrolment.bank_account_id}
    if not ids:
        return []
    accounts = db.session.scalars(select(BankAccount).where(BankAccount.id.in_(ids)).order_by(BankAccount.id))
    return [Step(account.opened_at, _("Bank account opened") if account.opened_at else _("Bank account requested"),
                 [], "done" if account.opened_at else "waiting") for account in accounts]


def payments(enrolments: list[Enrolment]) -> list[PayrollLine]:
    ids = [enrolment.id for enrolment in enrolments]
    if not ids:
        return []
    return list(db.session.scalars(select(PayrollLine).where(PayrollLine.enrolment_id.in_(ids))
                                   .order_by(PayrollLine.period, PayrollLine.id)))


def _payments(enrolments: list[Enrolment]) -> list[Step]:
    names = {enrolment.id: enrolment.programme.name for enrolment in enrolments}
    steps = []
    for line in payments(enrolments):
        month = date(int(line.period[:4]), int(line.period[5:7]), 1)
        state = {"paid": "done", "failed": "bad", "returned": "bad"}.get(line.status.value, "waiting")
        steps.append(Step(month, _("Payment for %(month)s: %(status)s", month=_month(month),
                                   status=line_words(line.status)),
                          [_("%(programme)s, %(amount)s", programme=names[line.enrolment_id],
                             amount=money(line.amount))], state, line))
    return steps


def decision(application: Application) -> dict | None:
    """The decision with the reasons: each criterion that failed, the values it saw, its legal basis; and the
    amount per programme and month when eligible."""
    if application.status is not S.decided:
        return None
    assessment = latest_assessment(application.id)
    if assessment is None:
        return None
    explained = explain(assessment)
    return {"assessment": assessment, "eligible": assessment.decision is Decision.eligible,
            "failed": [rule for rule in explained["rules"] if rule["fired"]],
            "passed": [rule for rule in explained["rules"] if not rule["fired"]],
            "programmes": explained["programmes"]}


_MONTHS = (_l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"), _l("July"),
           _l("August"), _l("September"), _l("October"), _l("November"), _l("December"))


def _month(day: date) -> str:
    return _("%(month)s %(year)d", month=_MONTHS[day.month - 1], year=day.year)


def period_words(period: str) -> str:
    """"2026-01" as "January 2026" in the reader's language."""
    return _month(date(int(period[:4]), int(period[5:7]), 1))


def decisions_of(applications: list[Application]) -> dict[int, bool]:
    """{application id: eligible?} for the decided ones, from their latest assessment."""
    ids = [application.id for application in applications]
    if not ids:
        return {}
    latest = select(func.max(Assessment.id)).where(Assessment.application_id.in_(ids)) \
        .group_by(Assessment.application_id)
    return {application_id: decision is Decision.eligible for application_id, decision in db.session.execute(
        select(Assessment.application_id, Assessment.decision).where(Assessment.id.in_(latest))).all()}
