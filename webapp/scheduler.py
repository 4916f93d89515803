"""Runs a periodic schedule (webapp/schedule.py): `srsp worker` beside its workers, `make run` in a thread.

Each run of an entry belongs to a slot (a minute, an hour, a month); it is enqueued with the slot in its dedupe key,
so however many schedulers run on however many machines, a slot runs once. A scheduler that starts late catches up
on the current slot (recertification on the 3rd still runs for that month).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask

from webapp.boundary import unit_of_work
from webapp.jobs import Task, enqueue
from webapp.timeutil import local_time, utcnow

log = logging.getLogger(__name__)
TICK_SECONDS = 5


@dataclass(frozen=True)
class Every:
    """Every so many seconds, counted from the epoch (so every scheduler agrees on the slot)."""

    seconds: int

    def slot(self, now: datetime) -> str:
        return str(int(now.timestamp()) // self.seconds)


@dataclass(frozen=True)
class Monthly:
    """Once a month, on `day` at `hour` in the country's time zone; the month's slot until the next one is due."""

    day: int = 1
    hour: int = 2

    def slot(self, now: datetime) -> str:
        local = local_time(now)
        year, month = local.year, local.month
        if (local.day, local.hour) < (self.day, self.hour):
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return f"{year:04d}-{month:02d}"


@dataclass(frozen=True)
class Daily:
    """Once a day at `hour` in the country's time zone; the day's slot until the next one is due (a scheduler that
    starts before the hour catches up on the day before)."""

    hour: int = 6

    def slot(self, now: datetime) -> str:
        local = local_time(now)
        day = local.date() if local.hour >= self.hour else local.date() - timedelta(days=1)
        return day.isoformat()


@dataclass(frozen=True)
class Periodic:
    name: str
    task: Task
    when: Every | Daily | Monthly
    title: object = None  # a lazy title: runs with a title are shown on the jobs page
    params: dict = field(default_factory=dict)


def effective(schedule, overrides: dict) -> list[Periodic]:
    """The schedule with configured periods: {"name": seconds} changes an entry's period, {"name": "off"} drops it."""
    unknown = set(overrides) - {entry.name for entry in schedule}
    if unknown:
        raise ValueError(f"SRSP_SCHEDULE names no periodic job {', '.join(sorted(unknown))}")
    entries = []
    for entry in schedule:
        setting = overrides.get(entry.name)
        if setting == "off":
            continue
        if setting is not None:
            entry = Periodic(entry.name, entry.task, Every(int(setting)), entry.title, entry.params)
        entries.append(entry)
    return entries


class Scheduler:
    def __init__(self, app: Flask, schedule):
        self.app = app
        self.entries = effective(schedule, app.config.get("SCHEDULE") or {})
        self._enqueued: dict[str, str] = {}

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue every entry whose current slot has not run yet; returns the names enqueued."""
        now = now or utcnow()
        started = []
        for entry in self.entries:
            slot = entry.when.slot(now)
            if self._enqueued.get(entry.name) == slot:
                continue
            with self.app.app_context(), unit_of_work():
                job_id = enqueue(entry.task, title=entry.title, dedupe_key=f"schedule:{entry.name}:{slot}",
                                 **entry.params)
            self._enqueued[entry.name] = slot
            if job_id:
                started.append(entry.name)
        return started

    def run(self, stop: threading.Event, interval: float = TICK_SECONDS) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a database or Redis outage: try again next tick, never stop scheduling
                log.exception("periodic schedule: tick failed")
            stop.wait(interval)


def start_in_thread(app: Flask, schedule, interval: float = TICK_SECONDS) -> threading.Event:
    """Run the schedule in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=Scheduler(app, schedule).run, args=(stop, interval), name="srsp-scheduler",
                              daemon=True)
    thread.start()
    return stop
