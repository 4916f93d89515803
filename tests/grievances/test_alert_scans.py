"""The daily alert scans (modules/grievances/alert_scans.py, the `scan_alerts` job at 06:00): an eligible household
whose entitlement ends within 30 days, an application in manual verification for more than 2 working days (weekends
and public holidays skipped). Each alert is raised once however often the scan runs, only for what qualifies, and
the scans ask the database a fixed number of questions whatever the number of households."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, select

from modules.enrolment.models import EnrolmentStatus
from modules.grievances import alert_scans
from modules.grievances.models import Case, CaseChannel, CaseKind, CaseStatus
from modules.grievances.tasks import scan_alerts
from modules.means_test.models import Assessment, Decision
from modules.registration.models import ApplicationEvent, ApplicationStatus
from tests import factories
from webapp.config import load_config
from webapp.extensions import db
from webapp.models import Area, AuditEvent

TODAY = date(2026, 12, 7)  # a Monday


def _alerts(**where) -> list[Case]:
    query = select(Case).where(Case.kind == CaseKind.alert)
    for name, value in where.items():
        query = query.where(getattr(Case, name) == value)
    return list(db.session.scalars(query.order_by(Case.id)))


def _area_code(family) -> str:
    return db.session.get(Area, family["household"].area_id).code


# --- recertification due -----------------------------------------------------------------------------------------


def _enrolled(start: date, months: int = 12, status: EnrolmentStatus = EnrolmentStatus.active) -> dict:
    family = factories.assessed_family()
    enrolment = factories.enrol(family, family["children"][0], start=start, months=months)
    enrolment.status = status
    db.session.flush()
    family["enrolment"] = enrolment
    return family


def test_a_household_whose_benefits_end_within_30_days_gets_one_alert_across_two_runs(app):
    due = _enrolled(date(2026, 1, 1))  # ends 31.12.2026: 24 days from the 7th
    worker = factories.make_user("social_worker", areas=[_area_code(due)])
    factories.enrol(due, due["children"][1], start=date(2026, 1, 1), months=6)  # ended earlier: the latest counts

    first = alert_scans.scan_recertification_due(TODAY)
    (case,) = _alerts(household_id=due["household"].id)
    assert first >= 1
    assert (case.category_code, case.priority, case.channel, case.assignee_id, case.status) == \
        ("recertification_due", 3, CaseChannel.event, worker.id, CaseStatus.assigned)
    assert case.source_key == f"recertification_soon:household:{due['household'].id}:2026-12-31"
    assert "31.12.2026" in case.description
    details = db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "case.alert_raised", AuditEvent.object_id == str(case.id)))
    assert details["event"] == {"kind": "recertification_due", "days_left": 24, "monthly_amount": 500000.0,
                                "period_end": "2026-12-31"}

    assert alert_scans.scan_recertification_due(TODAY) == 0
    assert alert_scans.scan_recertification_due(TODAY + timedelta(days=3)) == 0  # the next days too
    assert len(_alerts(household_id=due["household"].id)) == 1


def test_households_that_are_not_due_get_no_alert(app):
    later = _enrolled(date(2026, 2, 1))  # ends 31.01.2027: 55 days ahead
    ended = _enrolled(date(2025, 12, 1))  # ended 30.11.2026: the monthly recertification's, not an alert
    suspended = _enrolled(date(2026, 1, 1), status=EnrolmentStatus.suspended)
    reassessed = _enrolled(date(2026, 1, 1))
    db.session.add(Assessment(
        application_id=reassessed["application"].id, household_id=reassessed["household"].id, kind="initial",
        pack_id="uz", pack_version="test", engine="durable_rules", as_of=date(2026, 11, 30),
        decision=Decision.ineligible, per_capita_income=Decimal("900000.00"), monthly_total=Decimal("0"),
        reasons=[], programmes=[], facts={}, trace={}, created_at=datetime(2026, 11, 30, 8, tzinfo=UTC)))
    db.session.flush()
    families = (later, ended, suspended, reassessed)

    alert_scans.scan_recertification_due(TODAY)
    for family in families:
        assert _alerts(household_id=family["household"].id) == [], family["household"].id
    # 55 days ahead today is 25 days ahead on 6 January
    alert_scans.scan_recertification_due(date(2027, 1, 6))
    assert len(_alerts(household_id=later["household"].id)) == 1


# --- stuck in manual verification -----------------------------------------------------------------------------------


def _waiting(entered: datetime) -> dict:
    """A family whose application entered manual verification at `entered` (UTC) and is still there."""
    family = factories.assessed_family()
    application = family["application"]
    application.status = ApplicationStatus.manual_verification
    event = ApplicationEvent(from_status="collecting", to_status="manual_verification", at=entered)
    application.events.append(event)
    db.session.flush()
    family["event"] = event
    return family


def _local(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 5, tzinfo=UTC)  # Tashkent is UTC+5


THURSDAY = date(2026, 12, 10)


def test_an_application_in_manual_verification_for_more_than_2_working_days_gets_one_alert(app):
    stuck = _waiting(_local(date(2026, 12, 7)))  # Monday: Tuesday, Wednesday, Thursday waited
    registrar = factories.make_user("registrar", areas=[_area_code(stuck)])
    application = stuck["application"]

    for _ in range(2):
        scan_alerts.func("job-1", as_of=THURSDAY.isoformat())
    (case,) = _alerts(application_id=application.id)
    assert (case.category_code, case.priority, case.channel, case.assignee_id, case.area_id) == \
        ("manual_verification_stuck", 2, CaseChannel.event, registrar.id, application.area_id)
    assert (case.household_id, case.person_id) == (application.household_id, application.applicant_id)
    assert case.source_key == f"verification_overdue:application:{application.id}:{stuck['event'].id}"
    assert application.reference in case.description and "07.12.2026" in case.description
    assert "(3 " in case.description  # working days
    assert alert_scans.scan_stuck_verification(THURSDAY + timedelta(days=1)) == 0

    # Sent back to collection and into manual verification again: a new stay, a new alert once it lasts.
    again = ApplicationEvent(from_status="collected", to_status="manual_verification", at=_local(date(2026, 12, 14)))
    application.events.append(again)
    db.session.flush()
    assert alert_scans.scan_stuck_verification(date(2026, 12, 15)) == 0
    alert_scans.scan_stuck_verification(date(2026, 12, 17))
    assert [c.source_key for c in _alerts(application_id=application.id)] == [
        case.source_key, f"verification_overdue:application:{application.id}:{again.id}"]


def test_applications_that_have_not_waited_more_than_2_working_days_get_no_alert(app, monkeypatch):
    tuesday = _waiting(_local(date(2026, 12, 8)))  # Wednesday, Thursday: 2
    friday = _waiting(_local(date(2026, 12, 4)))  # over the weekend: Monday, Tuesday by the 8th
    monday = _waiting(_local(date(2026, 12, 7)))  # 3 by Thursday were Wednesday not a holiday
    decided = _waiting(_local(date(2026, 12, 1)))
    decided["application"].status = ApplicationStatus.decided  # left manual verification
    db.session.flush()
    monkeypatch.setitem(app.config, "PUBLIC_HOLIDAYS", [date(2026, 12, 9)])  # Wednesday is off

    for day in (date(2026, 12, 8), date(2026, 12, 9)):
        alert_scans.scan_stuck_verification(day)
        for family in (tuesday, friday, monday, decided):
            assert _alerts(application_id=family["application"].id) == [], (day, family["application"].id)
    alert_scans.scan_stuck_verification(THURSDAY)  # Friday's has waited Monday, Tuesday, Thursday
    assert [len(_alerts(application_id=f["application"].id)) for f in (tuesday, friday, monday, decided)] == \
        [0, 1, 0, 0]
    alert_scans.scan_stuck_verification(date(2026, 12, 11))  # Monday's: Tuesday, Thursday, Friday
    assert [len(_alerts(application_id=f["application"].id)) for f in (tuesday, friday, monday, decided)] == \
        [0, 1, 1, 0]


def test_the_holidays_come_from_srsp_public_holidays(app, monkeypatch, tmp_path):
    monkeypatch.setenv("SRSP_PUBLIC_HOLIDAYS", "2026-12-08, 2026-12-09")
    holidays = load_config({"INSTANCE_DIR": str(tmp_path)})["PUBLIC_HOLIDAYS"]
    assert holidays == [date(2026, 12, 8), date(2026, 12, 9)]
    monkeypatch.setitem(app.config, "PUBLIC_HOLIDAYS", holidays)
    friday = _waiting(_local(date(2026, 12, 4)))  # by Thursday: Monday, Thursday; Tuesday and Wednesday are off

    alert_scans.scan_stuck_verification(THURSDAY)
    assert _alerts(application_id=friday["application"].id) == []
    alert_scans.scan_stuck_verification(THURSDAY + timedelta(days=1))
    assert len(_alerts(application_id=friday["application"].id)) == 1


# --- set-based ------------------------------------------------------------------------------------------------------


def _statements(run) -> int:
    count = [0]

    def counted(*_args):
        count[0] += 1

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count[0]


def test_a_scan_asks_a_fixed_number_of_questions_whatever_the_number_of_households(app):
    for _ in range(3):
        _enrolled(date(2026, 1, 1))
        _waiting(_local(date(2026, 12, 1)))
    alert_scans.scan_alerts(THURSDAY)
    few = _statements(lambda: alert_scans.scan_alerts(THURSDAY))
    for _ in range(6):
        _enrolled(date(2026, 1, 1))
        _waiting(_local(date(2026, 12, 1)))
        _enrolled(date(2026, 3, 1))  # not due: counted by the grouping query, never looked at one by one
    alert_scans.scan_alerts(THURSDAY)
    many = _statements(lambda: alert_scans.scan_alerts(THURSDAY))
    assert few == many <= 6


# --- the schedule ------------------------------------------------------------------------------------------------


def test_the_scans_run_daily_at_six_local_time(app):
    from webapp.schedule import SCHEDULE
    from webapp.scheduler import Daily

    (entry,) = [entry for entry in SCHEDULE if entry.name == "alert-scans"]
    assert (entry.task, entry.when) == (scan_alerts, Daily(hour=6))
    before, at_six = datetime(2026, 12, 7, 0, 59, tzinfo=UTC), datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert (entry.when.slot(before), entry.when.slot(at_six)) == ("2026-12-06", "2026-12-07")
    assert entry.when.slot(datetime(2026, 12, 7, 18, 59, tzinfo=UTC)) == "2026-12-07"
    assert entry.when.slot(datetime(2026, 12, 7, 19, 0, tzinfo=UTC)) == "2026-12-07"  # midnight local, before six
