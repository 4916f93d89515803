"""Finance pages for reconciliation: imported bank statements, their exceptions, returns to the budget.

Thin: load, check access, validate, call an operation of `reconciliation`, commit or roll back, render or redirect.
Finance staff work nationally, so these pages are not scoped by area; permissions still decide who sees them.
Every refusal is a flashed message and changes nothing.
"""

from __future__ import annotations

import os
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from modules.payments import reconciliation
from modules.payments.generation import PERIOD
from modules.payments.models import ExceptionKind, Payroll, PayrollLine, StatementException, StatementImport
from webapp.auth.permissions import has_permission, require
from webapp.extensions import db
from webapp.filters import PageArgs, load_filters
from webapp.models import Area, Programme
from webapp.models.audit import AuditEvent
from webapp.timeutil import local_time, local_today, month_of

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a month's camt.053 for a whole region is a few MB; 20 MB leaves room
EXCEPTIONS_PER_PAGE = 50


class StatementFilterArgs(PageArgs):
    """The statement list takes only the page."""


class ExceptionFilterArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf([kind.value for kind in ExceptionKind]), load_default=None)


class ReturnsArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    period = fields.String(validate=validate.Regexp(PERIOD.pattern, error="Give the month as YYYY-MM."),
                           load_default=None)


class ResolveArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    # A missing or blank note reaches `resolve_exception`, which refuses it with its own message.
    note = fields.String(load_default="", validate=validate.Length(
        max=500, error="The note is too long (at most 500 characters)."))


# --- helpers -------------------------------------------------------------------------------------------------------

def _when(moment) -> str:
    local = local_time(moment)
    return local.strftime("%d.%m.%Y %H:%M") if local else "—"


def _summary(record: StatementImport) -> str:
    return _("%(kind)s file %(name)s imported: %(matched)d entries matched (%(paid)d paid, %(failed)d failed, "
             "%(returned)d returned), %(exceptions)d exceptions, %(pending)d pending.",
             kind=record.kind, name=record.filename or "—", matched=record.matched, paid=record.paid,
             failed=record.failed, returned=record.returned, exceptions=record.unmatched, pending=record.pending)


def _load_import_or_404(import_id: int) -> StatementImport:
    record = db.session.get(StatementImport, import_id)
    if record is None:
        abort(404)
    return record


def _payrolls_touched(record: StatementImport) -> list[Payroll]:
    """Payrolls whose lines this import settled (its audit event names them) or that its exceptions point at."""
    details = db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "statement.import", AuditEvent.object_type == "statement_import",
        AuditEvent.object_id == str(record.id)).order_by(AuditEvent.id).limit(1)) or {}
    ids = {int(payroll_id) for payroll_id in details.get("payrolls", [])}
    ids |= set(db.session.scalars(
        select(PayrollLine.payroll_id).join(StatementException, StatementException.payroll_line_id == PayrollLine.id)
        .where(StatementException.import_id == record.id).distinct()))
    if not ids:
        return []
    return list(db.session.scalars(select(Payroll).where(Payroll.id.in_(sorted(ids))).order_by(Payroll.id)))


def _lines_of(exceptions) -> dict[int, PayrollLine]:
    """The payroll lines the exceptions point at (amount mismatches, second outcomes), in one query."""
    ids = sorted({e.payroll_line_id for e in exceptions if e.payroll_line_id is not None})
    if not ids:
        return {}
    return {line.id: line for line in db.session.scalars(select(PayrollLine).where(PayrollLine.id.in_(ids)))}


def open_exception_count() -> int:
    """Open exceptions across imports (the payroll list links to them); 0 for those who may not see them."""
    if not has_permission(current_user, "statement.view"):
        return 0
    return db.session.scalar(select(func.count()).select_from(StatementException)
                             .where(StatementException.resolved_at.is_(None))) or 0


# --- statements ----------------------------------------------------------------------------------------------------

@require("statement.view")
def statement_list():
    filters = load_filters(StatementFilterArgs())
    query = select(StatementImport).order_by(StatementImport.imported_at.desc(), StatementImport.id.desc())
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    return render_template("payments/statements.html", page=page, filters=filters, max_mb=MAX_UPLOAD_BYTES // 2**20,
                           open_exceptions=open_exception_count())


def _upload() -> tuple[bytes, str] | str:
    """The uploaded file's bytes and name, or why it cannot be imported."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _("Choose a bank file to upload; nothing was imported.")
    name = os.path.basename(upload.filename.replace("\\", "/"))[:255]
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _("The file %(name)s is larger than %(mb)d MB; nothing was imported.", name=name,
                 mb=MAX_UPLOAD_BYTES // 2**20)
    if not data.strip():
        return _("The file %(name)s is empty; nothing was imported.", name=name)
    return data, name


@require("statement.import")
def statement_upload():
    upload = _upload()
    if isinstance(upload, str):
        flash(upload, "error")
        return redirect(url_for("payments.statement_list"))
    data, name = upload
    try:
        record = reconciliation.import_statement(data, name, current_user)
    except reconciliation.ReconciliationError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("payments.statement_list"))
    if record.repeat:
        db.session.rollback()
        flash(_("This file was already imported on %(when)s (as %(name)s); nothing changed.",
                when=_when(record.imported_at), name=record.filename or "—"), "info")
        return redirect(url_for("payments.statement_detail", import_id=record.id))
    db.session.commit()
    flash(_summary(record), "success")
    return redirect(url_for("payments.statement_detail", import_id=record.id))


@require("statement.view")
def statement_detail(import_id: int):
    record = _load_import_or_404(import_id)
    try:
        page_number = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page_number = 1
    exceptions = db.paginate(select(StatementException).where(StatementException.import_id == record.id)
                             .order_by(StatementException.id), page=page_number, per_page=EXCEPTIONS_PER_PAGE,
                             error_out=False)
    bars = [("paid", _("Paid"), record.paid), ("failed", _("Failed"), record.failed),
            ("returned", _("Returned"), record.returned), ("exceptions", _("Exceptions"), record.unmatched),
            ("pending", _("Pending"), record.pending)]
    return render_template("payments/statement.html", record=record, exceptions=exceptions, bars=bars,
                           max_bar=max([n for _k, _l, n in bars] or [1]) or 1, payrolls=_payrolls_touched(record),
                           lines=_lines_of(exceptions.items))


# --- exceptions ----------------------------------------------------------------------------------------------------

@require("statement.view")
def exception_list():
    filters = load_filters(ExceptionFilterArgs())
    query = select(StatementException).where(StatementException.resolved_at.is_(None))
    if filters["kind"]:
        query = query.where(StatementException.kind == ExceptionKind(filters["kind"]))
    page = db.paginate(query.order_by(StatementException.id), page=filters["page"], per_page=filters["per_page"],
                       error_out=False)
    return render_template("payments/exceptions.html", page=page, filters=filters, kinds=list(ExceptionKind),
                           lines=_lines_of(page.items))


@require("statement.import")
def exception_resolve(exception_id: int):
    exception = db.session.get(StatementException, exception_id)
    if exception is None:
        abort(404)
    try:
        note = ResolveArgs().load(request.form)["note"]
        reconciliation.resolve_exception(exception, note, current_user)
    except ValidationError as error:
        flash(_("Nothing changed: %(why)s", why=" ".join(error.messages.get("note", []))), "error")
    except reconciliation.ReconciliationError as refusal:
        db.session.rollback()
        flash(_("Nothing changed: %(why)s", why=str(refusal)), "error")
    else:
        db.session.commit()
        flash(_("Exception %(id)d resolved.", id=exception_id), "success")
    if request.form.get("back") == "exceptions":
        return redirect(url_for("payments.exception_list"))
    return redirect(url_for("payments.statement_detail", import_id=exception.import_id) + "#exceptions")


# --- returns to the budget -----------------------------------------------------------------------------------------

@require("statement.view")
def payroll_returns():
    error, result = None, None
    try:
        period = ReturnsArgs().load(request.args)["period"] or month_of(local_today(), -1)
    except ValidationError:
        period = request.args.get("period", "")
        error = _("%(period)s is not a month: give it as YYYY-MM, for example 2026-01.", period=period)
    if error is None:
        try:
            result = reconciliation.returns_to_budget(period)
        except reconciliation.ReconciliationError:
            error = _("%(period)s is not a month: give it as YYYY-MM, for example 2026-01.", period=period)
    if error:
        flash(error, "error")
    totals = {"by_status": _totals_by_status(result["groups"])} if result else None
    # Names in the reader's language (the operation groups by code).
    programmes = {programme.code: programme.name for programme in db.session.scalars(select(Programme))}
    codes = sorted({group["region"] for group in result["groups"]}) if result else []
    regions = {area.code: area.name for area in db.session.scalars(select(Area).where(Area.code.in_(codes)))}
    recorded = reconciliation.recorded_returns(period) if result else []
    return render_template("payments/returns.html", period=period, result=result, totals=totals,
                           programmes=programmes, regions=regions, recorded=recorded)


@require("statement.import")
def payroll_returns_record():
    period = request.form.get("period", "").strip()
    try:
        records = reconciliation.record_returns_to_budget(period, current_user)
    except reconciliation.ReconciliationError as refusal:
        db.session.rollback()
        flash(_("Nothing was recorded: %(why)s", why=str(refusal)), "error")
    else:
        db.session.commit()
        flash(_("Recorded for return to the budget: %(n)d programmes and regions.", n=len(records)) if records
              else _("Everything of %(period)s was recorded already; nothing changed.", period=period),
              "success" if records else "info")
    return redirect(url_for("payments.payroll_returns", period=period))


def _totals_by_status(groups: list[dict]) -> dict[str, dict]:
    """The failed, returned and unpaid columns summed over every programme and region."""
    totals: dict[str, dict] = {}
    for group in groups:
        for key, part in group["by_status"].items():
            total = totals.setdefault(key, {"lines": 0, "amount": Decimal("0.00")})
            total["lines"] += part["lines"]
            total["amount"] += part["amount"]
    return totals
