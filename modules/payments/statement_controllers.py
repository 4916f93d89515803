"""Finance pages for reconciliation: imported bank statements, their exceptions, returns to the budget.

Thin: load, check access, validate, call an operation (`reconciliation`, `operations`), flash, render or redirect;
the request's boundary commits or rolls back. Finance staff work nationally, so these pages are not scoped by area;
permissions still decide who sees them. Every refusal is a flashed message and changes nothing.
"""

from __future__ import annotations

import os
import unicodedata

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from modules.payments import operations, reconciliation
from modules.payments.models import ExceptionKind, StatementException, StatementImport
from modules.payments.schemas import ExceptionFilterArgs, ResolveArgs, ReturnsArgs, StatementFilterArgs
from webapp.auth.permissions import has_permission, require
from webapp.boundary import caught_refusal
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.guard import page_number
from webapp.models import Area, Programme
from webapp.timeutil import local_time, local_today, month_of

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a month's camt.053 for a whole region is a few MB; 20 MB leaves room
EXCEPTIONS_PER_PAGE = 50


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


def open_exception_count() -> int:
    """Open exceptions across imports (the payroll list links to them); 0 for those who may not see them."""
    return operations.open_exception_count() if has_permission(current_user, "statement.view") else 0


# --- statements ----------------------------------------------------------------------------------------------------

@require("statement.view")
def statement_list():
    filters = load_filters(StatementFilterArgs())
    query = select(StatementImport).order_by(StatementImport.imported_at.desc(), StatementImport.id.desc())
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    return render_template("payments/statements.html", page=page, filters=filters, max_mb=MAX_UPLOAD_BYTES // 2**20,
                           open_exceptions=open_exception_count())


def _upload() -> tuple[bytes, str]:
    """The uploaded file's bytes and name; ReconciliationError when there is nothing to import."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise reconciliation.ReconciliationError(_l("Choose a bank file to upload; nothing was imported."))
    name = os.path.basename(upload.filename.replace("\\", "/"))[:255]
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        # The request guard refuses these first; the name is stored, and NUL never may be (PostgreSQL refuses it).
        raise reconciliation.ReconciliationError(_l("The file name contains characters that are not allowed; "
                                                    "rename the file and upload it again. Nothing was imported."))
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise reconciliation.ReconciliationError(_l("The file %(name)s is larger than %(mb)d MB; nothing was "
                                                    "imported.", name=name, mb=MAX_UPLOAD_BYTES // 2**20))
    if not data.strip():
        raise reconciliation.ReconciliationError(_l("The file %(name)s is empty; nothing was imported.", name=name))
    return data, name


@require("statement.import")
def statement_upload():
    with caught_refusal() as refused:
        data, name = _upload()
        record = reconciliation.import_statement(data, name, current_user)
    if refused:
        return redirect(url_for("payments.statement_list"))
    if record.repeat:  # the earlier import stands; this request wrote nothing
        flash(_("This file was already imported on %(when)s (as %(name)s); nothing changed.",
                when=_when(record.imported_at), name=record.filename or "—"), "info")
        return redirect(url_for("payments.statement_detail", import_id=record.id))
    flash(_summary(record), "success")
    return redirect(url_for("payments.statement_detail", import_id=record.id))


@require("statement.view")
def statement_detail(import_id: int):
    record = _load_import_or_404(import_id)
    exceptions = db.paginate(operations.exceptions_query(import_id=record.id), page=page_number(),
                             per_page=EXCEPTIONS_PER_PAGE, error_out=False)
    bars = [("paid", _("Paid"), record.paid), ("failed", _("Failed"), record.failed),
            ("returned", _("Returned"), record.returned), ("exceptions", _("Exceptions"), record.unmatched),
            ("pending", _("Pending"), record.pending)]
    return render_template("payments/statement.html", record=record, exceptions=exceptions, bars=bars,
                           max_bar=max([n for _k, _l, n in bars] or [1]) or 1,
                           payrolls=operations.payrolls_touched(record), lines=operations.lines_of(exceptions.items))


# --- exceptions ----------------------------------------------------------------------------------------------------

@require("statement.view")
def exception_list():
    filters = load_filters(ExceptionFilterArgs())
    kind = ExceptionKind(filters["kind"]) if filters["kind"] else None
    page = db.paginate(operations.exceptions_query(kind=kind, open_only=True), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    return render_template("payments/exceptions.html", page=page, filters=filters, kinds=list(ExceptionKind),
                           lines=operations.lines_of(page.items))


@require("statement.import")
def exception_resolve(exception_id: int):
    exception = db.session.get(StatementException, exception_id)
    if exception is None:
        abort(404)
    try:
        note = ResolveArgs().load(request.form)["note"]
    except ValidationError as error:
        flash(_("Nothing changed: %(why)s", why=" ".join(str(m) for m in error.messages.get("note", []))), "error")
    else:
        with caught_refusal():
            reconciliation.resolve_exception(exception, note, current_user)
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
    totals = {"by_status": operations.totals_by_status(result["groups"])} if result else None
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
    with caught_refusal():
        records = reconciliation.record_returns_to_budget(period, current_user)
        flash(ngettext("Recorded for return to the budget: %(num)d programme and region.",
                       "Recorded for return to the budget: %(num)d programmes and regions.", len(records)) if records
              else _("Everything of %(period)s was recorded already; nothing changed.", period=period),
              "success" if records else "info")
    return redirect(url_for("payments.payroll_returns", period=period))

