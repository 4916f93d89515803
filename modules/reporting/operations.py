"""Freezing a month's return: compute it with its breakdown tables, reconcile its amounts with the payments' own
records, store a new version.

Operations flush and audit; the caller's boundary (a job, a command) commits.

The reconciliation compares, per programme and region, the amounts the return reports with records the return
does not read:
- "approved": the payrolls' own totals (`payroll.total_amount`, frozen with the payroll at approval);
- "paid", "failed", "returned": what was sent to the bank for those lines (`payment_ledger`, written when the
  payroll was sent and never changed), summed over the lines the bank statements settled that way.
A line whose amount was changed behind the payroll's back shows as a difference in both.
"""

from __future__ import annotations

import subprocess
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path

from sqlalchemy import func, select

from modules.reporting import breakdowns, compute
from modules.reporting import month as definitions
from modules.reporting.models import MonthlyReturn
from webapp import audit
from webapp.extensions import db

_STATUS_OF = {"amount_paid": "paid", "amount_failed": "failed", "amount_returned": "returned"}


@cache
def code_version() -> str:
    """The git commit of the running code when it is a checkout, else the installed package's version."""
    root = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5,
                                check=True)
        commit = result.stdout.strip()
        if commit:
            return commit
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return metadata.version("srsp")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sources(period: str) -> dict[tuple[str, str, str], Decimal]:
    """(what, programme, region) → the amount the payment records say, by one grouped query per record."""
    month = definitions.Month(period)
    found: dict[tuple[str, str, str], Decimal] = {}
    payrolls = (f"SELECT p.code, r.code, COALESCE(SUM(pr.total_amount), 0) FROM payroll pr JOIN programme p ON "
                f"p.id = pr.programme_id {definitions.region_join('pr.area_id')} WHERE pr.period = :period "
                f"AND pr.status IN {definitions.FROZEN_PAYROLLS} GROUP BY p.code, r.code")
    for programme, region, amount in month.run(payrolls):
        found["amount_approved", programme, region] = Decimal(amount)
    lines = definitions.PAYROLL_LINES.replace("FROM payroll_line l",
                                          "FROM payroll_line l JOIN payment_ledger g ON g.payroll_line_id = l.id")
    ledger = (f"SELECT l.status, p.code, r.code, COALESCE(SUM(g.amount), 0) {lines} "
              "AND l.status IN ('paid', 'failed', 'returned') GROUP BY l.status, p.code, r.code")
    for status, programme, region, amount in month.run(ledger):
        found[f"amount_{status}", programme, region] = Decimal(amount)
    return found


def reconcile(data: dict) -> dict:
    """{"ok", "differences": [{"programme", "region", "what", "reported", "source", "difference"}]}."""
    sources = _sources(data["period"])
    reported: dict[tuple[str, str, str], Decimal] = {}
    for what in ("amount_approved", *_STATUS_OF):
        for row in data["indicators"][what]["rows"]:
            reported[what, row["programme"], row["region"]] = Decimal(str(row["value"]))
    differences = []
    for key in sorted(set(reported) | set(sources), key=lambda k: tuple(str(part) for part in k)):
        ours, theirs = reported.get(key, Decimal(0)), sources.get(key, Decimal(0))
        if ours != theirs:
            what, programme, region = key
            differences.append({"programme": programme, "region": region, "what": what,
                                "reported": definitions.number(ours), "source": definitions.number(theirs),
                                "difference": definitions.number(ours - theirs)})
    return {"ok": not differences, "differences": differences}


def latest(period: str) -> MonthlyReturn | None:
    return db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.period == period)
                             .order_by(MonthlyReturn.version.desc()).limit(1))


def figures(period: str) -> dict:
    """The month's return: its indicators and its breakdown tables, both from the month's summary as computing the
    return rebuilds it (the dashboard's trends then show what was frozen). Flushes."""
    data = compute.compute_return(period)
    data["breakdowns"] = breakdowns.build(period)
    return data


def freeze(period: str, actor=None) -> MonthlyReturn:
    """Compute the month's return, reconcile it and store it as the period's next version (never an overwrite)."""
    data = figures(period)
    reconciliation = reconcile(data)
    version = (db.session.scalar(select(func.max(MonthlyReturn.version)).where(MonthlyReturn.period == period))
               or 0) + 1
    row = MonthlyReturn(period=period, version=version, code_version=code_version(),
                        computed_by_id=actor.id if actor is not None else None, data=data,
                        reconciliation=reconciliation)
    db.session.add(row)
    db.session.flush()  # UNIQUE (period, version) refuses a concurrent freeze of the same version here
    audit.record("report.frozen", "monthly_return", row.id,
                 {"period": period, "version": version, "code_version": row.code_version,
                  "reconciled": reconciliation["ok"], "differences": len(reconciliation["differences"])},
                 actor=actor)
    return row


def has_data(data: dict) -> bool:
    """Whether anything happened in the month: a return of nothing but zeros is no return."""
    return any(figures["total"] or figures["rows"] for code, figures in data["indicators"].items()
               if code != "coverage")
