"""Payroll jobs: the month's payrolls of every programme and region, one job per region (`webapp.fanout`), so each
`srsp worker` added (on this machine or another sharing the database and Redis) takes regions of its own.

A region's job prepares, programme by programme, what a finance maker would prepare on the payrolls page: it
generates the draft payroll and runs the pre-payroll checks, and the job's commit keeps both. It is idempotent:
a payroll of the month already checked (a repeated run, or one a person prepared) is counted, not prepared again.

The checks that compare a line with the month's other lines (one person in two households, incompatible
programmes) see only what other regions have committed. So on PostgreSQL each region's checks take the month's
turn (an advisory lock) and hold it until the region's job commits: a region checked later sees every line of the
regions checked before, as if the regions had been prepared one after another, and generation still runs side by
side. When the last region is done, the month's result (payrolls, lines, totals, exclusions per region) is
assembled on the job.
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.payments.checks import run_checks, take_the_months_turn
from modules.payments.generation import NothingDue, generate, month_bounds
from modules.payments.models import EnrolmentArrear, Payroll, PayrollLine, PayrollStatus
from modules.payments.status import PayrollError
from modules.registration.models import Household
from webapp import fanout
from webapp.extensions import db
from webapp.jobs import enqueue, live_subjects, report_progress, task
from webapp.models import Area, Programme, User


@task("payments", timeout=3 * 3600)
def prepare_region(job_id: str, period: str, region: str, programmes: list[str], user_id: int | None = None) -> dict:
    """Generate and check the month's payroll of each programme in the region; the region's result."""
    actor = db.session.get(User, user_id) if user_id else None
    payrolls, steps = [], 2 * len(programmes)  # generation and checks of each programme

    def step(done: int, message: str) -> None:
        report_progress(job_id, 100 * done // steps, message)

    for n, code in enumerate(programmes):
        generated = lambda lines, n=n, code=code: step(2 * n + 1, f"{code}: {lines}")  # noqa: E731
        summary = _prepare(code, region, period, actor, generated)
        if summary is not None:
            payrolls.append(summary)
        step(2 * n + 2, code)
    lines = sum(item["lines"] for item in payrolls)
    excluded = Counter()
    for item in payrolls:
        excluded.update(item["excluded"])
    return {"region": region, "payrolls": payrolls, "done": lines, "lines": lines,
            "total": str(sum((Decimal(item["total"]) for item in payrolls), Decimal("0.00"))),
            "excluded": dict(excluded)}


def _prepare(programme: str, region: str, period: str, actor, generated=None) -> dict | None:
    """One payroll generated and checked (or found already checked); None when nothing is due. `generated` is told
    the number of lines between the two steps."""
    existing = _live_payroll(programme, region, period)
    if existing is not None and existing.status is not PayrollStatus.draft:
        return _summary(existing, programme, {}, prepared=False)
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return round(clock[-1] - clock[-2], 3)

    if _no_line_yet():
        # A new database: PostgreSQL plans generation's NOT EXISTS on payroll_line from the table's current size.
        # Planned while another region has not yet inserted (empty: a scan per enrolment) and run while it fills
        # the table, it reads that region's lines again for every enrolment (minutes instead of seconds). So the
        # first regions generate one after another, until one has committed lines the next plans can see.
        take_the_months_turn(period)
    try:
        payroll = generate(programme, region, period, actor)
    except NothingDue:
        return None
    if generated is not None:
        generated(payroll.line_count)
    seconds = {"generate": lap()}
    take_the_months_turn(period)
    seconds["waiting"] = lap()
    excluded = run_checks(payroll, actor)
    seconds["checks"] = lap()
    payroll = db.session.get(Payroll, payroll.id)  # the checks expire what the session held
    # The seconds of each step say how much of a region's time waited for the month's turn to check.
    return {**_summary(payroll, programme, {reason: n for reason, n in excluded.items() if n}, prepared=True),
            "seconds": seconds}


def _live_payroll(programme: str, region: str, period: str) -> Payroll | None:
    return db.session.scalar(
        select(Payroll).join(Programme, Programme.id == Payroll.programme_id).join(Area, Area.id == Payroll.area_id)
        .where(Programme.code == programme, Area.code == region, Payroll.period == period,
               Payroll.status != PayrollStatus.cancelled))


def _summary(payroll: Payroll, programme: str, excluded: dict, prepared: bool) -> dict:
    return {"id": payroll.id, "programme": programme, "status": payroll.status.value, "prepared": prepared,
            "lines": payroll.line_count, "total": str(payroll.total_amount), "excluded": excluded}


def _no_line_yet() -> bool:
    return db.session.get_bind().dialect.name == "postgresql" and not db.session.scalar(
        select(PayrollLine.id).limit(1))


# --- the month --------------------------------------------------------------------------------------------------


def assemble_month(results: dict[str, dict], period: str, user_id: int | None = None) -> dict:
    """The month's result from its regions' results: payrolls, lines, totals and exclusions, per region and in all."""
    regions = {code: {"payrolls": [item["id"] for item in result.get("payrolls", [])],
                      "lines": result.get("lines", 0), "total": result.get("total", "0.00"),
                      "excluded": result.get("excluded", {})}
               for code, result in results.items()}
    excluded = Counter()
    for region in regions.values():
        excluded.update(region["excluded"])
    return {"period": period, "payrolls": sum(len(region["payrolls"]) for region in regions.values()),
            "lines": sum(region["lines"] for region in regions.values()),
            "total": str(sum((Decimal(region["total"]) for region in regions.values()), Decimal("0.00"))),
            "excluded": dict(excluded), "regions": regions}


@fanout.fan_out("payments", child=prepare_region, assemble=assemble_month, permission="payroll.prepare",
                done_label=_l("Lines"), part_label=fanout.region_name, result_template="payments/_month_result.html")
def prepare_month(period: str, user_id: int | None = None) -> list[fanout.Part]:
    """A part per region with enrolments that may be due in the month, naming the programmes to prepare there."""
    due = _programmes_by_region(period)
    return [fanout.Part(key=region.code, title=region.name, params={
                "period": period, "region": region.code, "programmes": due[region.id], "user_id": user_id})
            for region in fanout.regions() if due.get(region.id)]


def _programmes_by_region(period: str) -> dict[int, list[str]]:
    """{region id: [programme codes]} with an active enrolment covering the month or owed an earlier month."""
    first, last = month_bounds(period)
    e, h = Enrolment, Household
    active = and_(e.status == EnrolmentStatus.active, Programme.active)
    covering = (select(e.programme_id, h.area_id).distinct().join(h, h.id == e.household_id)
                .join(Programme, Programme.id == e.programme_id)
                .where(active, e.period_start <= last, e.period_end >= first))
    owed = (select(e.programme_id, h.area_id).distinct().select_from(EnrolmentArrear)
            .join(e, e.id == EnrolmentArrear.enrolment_id).join(h, h.id == e.household_id)
            .join(Programme, Programme.id == e.programme_id).where(active, EnrolmentArrear.period < period))
    pairs = set(db.session.execute(covering).all()) | set(db.session.execute(owed).all())
    region_of = _region_of_areas({area_id for _programme, area_id in pairs})
    programmes = db.session.execute(select(Programme.id, Programme.code).order_by(Programme.id)).all()
    codes, order = dict(programmes), {code: n for n, (_id, code) in enumerate(programmes)}
    found: dict[int, set[str]] = {}
    for programme_id, area_id in pairs:
        found.setdefault(region_of[area_id], set()).add(codes[programme_id])
    # In the programmes' order, as a person preparing them one after another would (the checks of incompatible
    # programmes keep the line of the one prepared first).
    return {region: sorted(found_codes, key=order.__getitem__) for region, found_codes in found.items()}


def _region_of_areas(area_ids: set[int]) -> dict[int, int]:
    """{area id: its region's id}; an area's materialised path starts with its region's id."""
    paths = db.session.execute(select(Area.id, Area.path).where(Area.id.in_(area_ids))).all() if area_ids else []
    return {area_id: int(path.strip("/").split("/")[0]) for area_id, path in paths}


def month_subject(period: str) -> str:
    return f"payroll-month:{period}"


def start_month(user, period: str) -> str:
    """Queue the month's payrolls of every region (a national finance maker's step); returns the job's id. A month
    already being prepared is refused rather than prepared twice side by side."""
    period = (period or "").strip()
    month_bounds(period)  # refuses anything that is not a month
    if user is not None and not user.national_scope:
        raise PayrollError(_l("Only a finance officer with national scope prepares the whole month."))
    if live_subjects([month_subject(period)]):
        raise PayrollError(_l("The payrolls of %(period)s are being prepared already: follow them on the jobs page.",
                              period=period))
    return enqueue(prepare_month, title=_l("Payrolls of %(period)s, all regions", period=period), user=user,
                   subject=month_subject(period), period=period, user_id=user.id if user else None)
