"""Time helpers: timestamps are stored in UTC, dates are the country's calendar dates."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Tashkent"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE)


def local_today() -> date:
    """Today's date in the country (the server may run on UTC): due dates and months are counted in it."""
    return datetime.now(_zone()).date()


def local_time(moment: datetime | None) -> datetime | None:
    """A stored timestamp (UTC; SQLite returns it naive) in the country's time zone, for display."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone())


def local_day_start(day: date) -> datetime:
    """The UTC instant at which a calendar date begins in the country (for filtering stored timestamps by date)."""
    return datetime.combine(day, time.min, tzinfo=_zone()).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def add_working_days(start: date, days: int, holidays: frozenset[date] | set[date] = frozenset()) -> date:
    """The date `days` working days after `start`, skipping Saturdays, Sundays and public holidays."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            remaining -= 1
    return current


def age_on(birth_date: date, on: date) -> int:
    """Completed years on a date (a person born on 29 February turns a year older on 1 March)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def month_of(day: date, shift: int = 0) -> str:
    """The month of `day` moved by `shift` months, as YYYY-MM (a payroll's period): month_of(d, 1) is the next."""
    index = day.year * 12 + day.month - 1 + shift
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
