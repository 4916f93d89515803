"""Finance pages: payroll list and detail, preparation, approval with an authenticator code, funds, sending, files.

Thin: load, check access, read the form, call an operation (`operations`, `status`, `sending`, `export`), flash and
redirect. The request's boundary commits what a page did or rolls it back; a refusal is a flashed message that
changes nothing (a wrong authenticator code keeps only its audit event).
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.payments import export, operations, payees, sending, tasks
from modules.payments import status as machine
from modules.payments.checks import CHECKS
from modules.payments.funding import requests_of
from modules.payments.generation import month_bounds
from modules.payments.models import FROZEN, Payroll, PayrollStatus, live_fund_request
from modules.payments.schemas import ApproveArgs, CancelArgs, MonthFundsArgs, PayrollFilterArgs, PrepareArgs
from webapp import audit
from webapp.auth.permissions import require
from webapp.auth.scope import areas_in_scope
from webapp.boundary import caught_refusal
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.formatting import money
from webapp.guard import page_number
from webapp.models import AreaLevel

LINES_PER_PAGE = 50
MIME = {"pain.001.001.03": "application/xml", "pain.001.001.09": "application/xml", "csv": "text/csv"}
SUFFIX = {"pain.001.001.03": "xml", "pain.001.001.09": "xml", "csv": "csv"}


@require("payroll.view")
def payroll_list():
    filters = load_filters(PayrollFilterArgs())
    page = db.paginate(operations.payrolls_query(current_user, filters), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    regions = areas_in_scope(current_user, AreaLevel.region)
    return render_template("payments/list.html", page=page, filters=filters, statuses=list(PayrollStatus),
                           programmes=operations.active_programmes(), regions=regions,
                           prepare=_prepare_defaults(regions), awaiting_funds=operations.awaiting_funds(current_user))


def _home_region(regions) -> str | None:
    """The code of the region of the user's first area that they may prepare for; None for national users (they
    choose every time, rather than be handed the first region of the country)."""
    if current_user.national_scope:
        return None
    pickable = {region.id: region.code for region in regions}
    for scope in sorted(current_user.scopes, key=lambda scope: scope.id):
        region_id = int(scope.area.path.strip("/").split("/")[0])  # a path starts with its region's id
        if region_id in pickable:
            return pickable[region_id]
    return None


def _prepare_defaults(regions) -> dict[str, str]:
    """What the preparation form shows: what was sent when it was refused, else the user's own region."""
    sent = {key: request.args.get(f"prepare_{key}", "").strip() for key in ("programme", "region", "period")}
    known = {region.code for region in regions}
    if sent["region"] not in known:
        sent["region"] = _home_region(regions) or ""
    return sent


@require("payroll.prepare")
def payroll_request_month_funds():
    period = MonthFundsArgs().load(request.form)["period"].strip()
    with caught_refusal() as refused:
        fund_request, payrolls = operations.request_month_funds(current_user, period)
    if refused:
        return redirect(url_for("payments.payroll_list"))
    counted = ngettext("%(num)d payroll, %(amount)s: ", "%(num)d payrolls, %(amount)s: ", len(payrolls),
                       amount=money(fund_request.total_amount))
    flash(counted + _funds_message(fund_request), "error" if fund_request.status.value == "refused" else "success")
    return redirect(url_for("payments.payroll_list", period=period))


@require("payroll.prepare")
def payroll_prepare():
    form = PrepareArgs().load(request.form)
    with caught_refusal() as refused:
        payroll, summary = operations.prepare_payroll(current_user, form["programme"], form["region"], form["period"])
    if refused:  # the list again, the form showing what was chosen, the refusal flashed above it
        return redirect(url_for("payments.payroll_list", **{f"prepare_{key}": form[key][:100] for key in form},
                                _anchor="prepare"))
    flash(_("Payroll %(id)d prepared and checked: %(lines)d lines included, %(excluded)d excluded.",
            id=payroll.id, lines=payroll.line_count, excluded=sum(summary.values())), "success")
    return redirect(url_for("payments.payroll_detail", payroll_id=payroll.id))


@require("payroll.prepare")
def payroll_prepare_month():
    """Every region's payrolls of the month, one job per region; the job's page follows them."""
    period = MonthFundsArgs().load(request.form)["period"]
    with caught_refusal() as refused:
        job_id = tasks.start_month(current_user, period)
    if refused:
        return redirect(url_for("payments.payroll_list", _anchor="prepare-month"))
    flash(_("The payrolls of %(period)s are prepared region by region; this page follows them.",
            period=period.strip()), "success")
    return redirect(url_for("core.job_detail", job_id=job_id))


def _load_or_404(payroll_id: int) -> Payroll:
    payroll = operations.payroll_in_scope(current_user, payroll_id)
    if payroll is None:
        abort(404)  # out of scope looks exactly like missing
    return payroll


@require("payroll.view")
def payroll_detail(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    exclusions = operations.exclusions(payroll.id)
    lines = db.paginate(operations.lines_query(payroll.id, excluded=False), page=page_number(),
                        per_page=LINES_PER_PAGE, error_out=False)
    payees = _payees(payroll, lines.items)
    rows = [(line, person, *payees[line.id]) for line, person in operations.with_beneficiaries(lines.items)]
    # The page lists beneficiaries by name and PIN: a staff read of people's records, so it is audited.
    audit.record("payroll.viewed", "payroll", payroll.id, {"page": lines.page}, actor=current_user)
    exceptions = operations.with_beneficiaries(
        db.session.scalars(operations.lines_query(payroll.id, excluded=True).limit(500)).all())
    refusal = machine.approval_refusal(payroll, current_user)
    arrears = _arrears_labels(payroll, [*lines.items, *(line for line, _person in exceptions)])
    return render_template(
        "payments/detail.html", payroll=payroll, lines=lines, rows=rows, exceptions=exceptions, exclusions=exclusions,
        excluded_lines=sum(n for _r, n, _a in exclusions), excluded_amount=sum((a or 0) for _r, _n, a in exclusions),
        max_excluded=max([n for _r, n, _a in exclusions] or [1]), reasons=list(CHECKS),
        timeline=operations.timeline(payroll.id), approval_block=str(refusal) if refusal else None,
        downloadable=payroll.status in FROZEN, formats=export.FORMATS,
        can_cancel=machine.can_transition(payroll.status, PayrollStatus.cancelled),
        fund_requests=requests_of(payroll.id), live_fund_request=live_fund_request(payroll.id),
        funded=machine.funds_confirmed(payroll.id), transfer=sending.transfer_of(payroll.id), arrears=arrears)


def _arrears_labels(payroll: Payroll, lines) -> dict[int, str]:
    """{line id: "Arrears for October 2026"} for the lines paying an owed month (a period not the payroll's)."""
    return {line.id: _("Arrears for %(month)s", month=format_date(month_bounds(line.period)[0], "LLLL y"))
            for line in lines if line.period != payroll.period}


def _payees(payroll: Payroll, lines) -> dict[int, tuple[str, str | None]]:
    """{line id: (payee name, account number)}: who receives the money, often a parent rather than the child the
    benefit is for. An approved payroll shows the snapshot its bank file pays; before approval, what approval would
    take now (the enrolment's payee, and the account only when a payment can go to it)."""
    if payroll.status in FROZEN:
        return {line.id: (line.payee_name or "—", line.payee_account) for line in lines}
    if not lines:
        return {}
    current = db.session.execute(payees.joined(
        select(Enrolment.id, *payees.columns()).select_from(Enrolment)
        .where(Enrolment.id.in_({line.enrolment_id for line in lines})))).mappings()
    by_enrolment = {row["id"]: (row["payee_name"], row["payee_account"]) for row in current}
    return {line.id: by_enrolment.get(line.enrolment_id, ("—", None)) for line in lines}


def _back(payroll_id: int):
    return redirect(url_for("payments.payroll_detail", payroll_id=payroll_id))


@require("payroll.approve")
def payroll_approve(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    with caught_refusal():  # a wrong code's audit event is kept (the refusal says so)
        machine.approve(payroll, current_user, ApproveArgs().load(request.form)["code"])
        flash(_("Payroll approved."), "success")
    return _back(payroll_id)


@require("payroll.prepare")
def payroll_cancel(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    with caught_refusal():
        machine.cancel(payroll, CancelArgs().load(request.form)["reason"], current_user)
        flash(_("Payroll cancelled; its lines were released so the month can be prepared again."), "success")
    return _back(payroll_id)


def _funds_message(fund_request) -> str:
    if fund_request.status.value == "confirmed":
        return _("The treasury confirmed the funds (%(ref)s): the payroll can be sent to the bank.",
                 ref=fund_request.treasury_reference or fund_request.reference)
    if fund_request.status.value == "refused":
        return _("The treasury refused the request: %(why)s", why=fund_request.refusal_reason or "")
    return _("The request was sent; the treasury has not answered yet.")


@require("payroll.prepare")
def payroll_request_funds(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    with caught_refusal():
        flash(_funds_message(operations.request_or_refresh_funds(payroll, current_user)), "success")
    return _back(payroll_id)


@require("payroll.prepare")
def payroll_send(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    with caught_refusal():
        transfer = sending.send_to_bank(payroll, current_user)
        flash(ngettext("The bank received the file %(msg)s (%(num)d payment); the payroll is sent.",
                       "The bank received the file %(msg)s (%(num)d payments); the payroll is sent.",
                       transfer.transactions, msg=transfer.message_id), "success")
    return _back(payroll_id)


@require("payroll.prepare")
def payroll_fetch_statement(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    with caught_refusal():
        record = sending.fetch_statement(payroll, current_user)
        if record.repeat:
            flash(_("The bank's statement has not changed since it was last fetched: nothing changed."), "success")
        else:
            flash(_("Statement imported: %(paid)d paid, %(failed)d failed, %(returned)d returned, %(other)d "
                    "exceptions.", paid=record.paid, failed=record.failed, returned=record.returned,
                    other=record.unmatched), "success")
    return _back(payroll_id)


@require("payroll.view")
def payroll_download(payroll_id: int, file_format: str):
    payroll = _load_or_404(payroll_id)
    if file_format not in export.FORMATS:
        abort(404)
    with caught_refusal() as refused:
        content = export.render(payroll, file_format)
    if refused:
        return _back(payroll_id)
    audit.record("payroll.file_downloaded", "payroll", payroll.id, {"format": file_format}, actor=current_user)
    name = f"payroll-{payroll.id}-{payroll.period}-{file_format}.{SUFFIX[file_format]}"
    return Response(content, mimetype=MIME[file_format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
