"""The decision is due 3 working days after submission: weekends and configured public holidays do not count."""

from __future__ import annotations

from datetime import date

import pytest

from modules.registration import operations
from modules.registration.models import ApplicationStatus
from tests import factories
from tests.registration.helpers import advance, register
from webapp.timeutil import add_working_days, age_on, month_of

MON, TUE, WED, THU, FRI, SAT, SUN = (date(2025, 1, day) for day in range(6, 13))
NAVRUZ = date(2025, 3, 21)  # a Friday


@pytest.mark.parametrize(("start", "days", "expected"), [
    (MON, 3, THU),
    (TUE, 3, FRI),
    (WED, 3, date(2025, 1, 13)),   # Thu, Fri, Mon
    (THU, 3, date(2025, 1, 14)),
    (FRI, 3, date(2025, 1, 15)),
    (SAT, 3, date(2025, 1, 15)),   # Mon, Tue, Wed
    (SUN, 3, date(2025, 1, 15)),
    (FRI, 1, date(2025, 1, 13)),
    (MON, 5, date(2025, 1, 13)),
    (MON, 10, date(2025, 1, 20)),
    (MON, 0, MON),
    (date(2024, 12, 30), 3, date(2025, 1, 2)),  # over the new year, no holidays configured
    (date(2024, 2, 28), 1, date(2024, 2, 29)),  # leap day is a Thursday
])
def test_add_working_days_skips_weekends(start, days, expected):
    assert add_working_days(start, days) == expected


def test_add_working_days_skips_holidays():
    assert add_working_days(date(2025, 3, 20), 3, {NAVRUZ}) == date(2025, 3, 26)   # Mon, Tue, Wed
    assert add_working_days(date(2025, 3, 20), 3, set()) == date(2025, 3, 25)


def test_consecutive_holidays_and_weekend_are_skipped_together():
    holidays = {date(2025, 3, 31), date(2025, 4, 1)}  # Mon and Tue after a weekend
    assert add_working_days(date(2025, 3, 28), 3, holidays) == date(2025, 4, 4)   # Wed, Thu, Fri


def test_holiday_on_a_weekend_does_not_count_twice():
    assert add_working_days(FRI, 3, {SAT, date(2025, 1, 12)}) == date(2025, 1, 15)


def test_holiday_on_the_start_day_does_not_matter():
    assert add_working_days(MON, 3, {MON}) == THU


def test_due_date_uses_the_configured_holidays(app, set_holidays):
    set_holidays([])
    assert operations.due_date(date(2025, 3, 20)) == date(2025, 3, 25)
    set_holidays([NAVRUZ])
    assert operations.due_date(date(2025, 3, 20)) == date(2025, 3, 26)
    set_holidays([NAVRUZ, date(2025, 3, 24)])
    assert operations.due_date(date(2025, 3, 20)) == date(2025, 3, 27)


def test_holiday_setting_is_restored_between_tests(app):
    assert app.config["PUBLIC_HOLIDAYS"] == []
    assert app.config.get("TODAY_OVERRIDE") is None


@pytest.mark.parametrize(("today", "holidays", "due"), [
    (date(2025, 1, 10), [], date(2025, 1, 15)),                    # Friday: Mon, Tue, Wed
    (date(2025, 1, 10), [date(2025, 1, 13)], date(2025, 1, 16)),   # Friday before a Monday holiday
    (date(2025, 1, 11), [], date(2025, 1, 15)),                    # submitted on a Saturday
])
def test_submitted_application_is_due_after_three_working_days(tk_registrar, set_today, set_holidays, today,
                                                               holidays, due):
    set_today(today)
    set_holidays(holidays)
    family = factories.make_family("UZ-TK", children=1)
    application = register(factories.application_payload(family), tk_registrar)
    assert application.status is ApplicationStatus.submitted
    assert application.due_at == due


def test_draft_gets_its_due_date_when_submitted(tk_registrar, set_today):
    set_today(date(2025, 1, 6))
    family = factories.make_family("UZ-TK", children=0)
    application = register(factories.application_payload(family), tk_registrar, submit=False)
    assert application.due_at is None

    set_today(date(2025, 1, 9))  # Thursday
    advance(application, ApplicationStatus.submitted, tk_registrar)
    assert application.due_at == date(2025, 1, 14)
    assert application.period == "2025-01"


@pytest.mark.parametrize(("on", "expected"), [
    (date(2026, 6, 14), 17), (date(2026, 6, 15), 18), (date(2027, 6, 14), 18),
])
def test_age_on(on, expected):
    assert age_on(date(2008, 6, 15), on) == expected


@pytest.mark.parametrize(("on", "expected"), [
    (date(2026, 2, 28), 17), (date(2026, 3, 1), 18), (date(2028, 2, 29), 20),
])
def test_age_on_for_a_leap_day_birthday(on, expected):
    assert age_on(date(2008, 2, 29), on) == expected


@pytest.mark.parametrize(("day", "shift", "month"), [
    (date(2026, 12, 4), 1, "2027-01"), (date(2026, 1, 31), -1, "2025-12"), (date(2026, 5, 1), 0, "2026-05"),
    (date(2026, 3, 15), -12, "2025-03")])
def test_month_of_moves_across_years(day, shift, month):
    assert month_of(day, shift) == month
