"""Finance pages: payroll list and detail, approval with an authenticator code, bank files, authenticator set-up.

Thin: load, check access, call an operation of `generation`, `checks`, `status`, `export` or `totp`, commit or roll
back, redirect. Every refusal is a flashed message and changes nothing.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import fields, validate
from sqlalchemy import func, select

from modules.enrolment.models import Enrolment
from modules.payments import export, funding, sending, totp
from modules.payments import status as machine
from modules.payments.bankfiles import BankFileError
from modules.payments.checks import CHECKS, run_checks
from modules.payments.generation import PERIOD, generate
from modules.payments.models import FROZEN, LineStatus, Payroll, PayrollLine, PayrollStatus, live_fund_request
from modules.registration.models import Person
from webapp import audit
from webapp.auth.permissions import has_permission, require
from webapp.auth.scope import area_clause, areas_in_scope
from webapp.extensions import db
from webapp.filters import PageArgs, load_filters
from webapp.models import Area, AreaLevel, Programme
from webapp.models.audit import AuditEvent

LINES_PER_PAGE = 50
MIME = {"pain.001.001.03": "application/xml", "pain.001.001.09": "application/xml", "csv": "text/csv"}
SUFFIX = {"pain.001.001.03": "xml", "pain.001.001.09": "xml", "csv": "csv"}


class PayrollFilterArgs(PageArgs):
    programme = fields.String(load_default=None)
    region = fields.String(load_default=None)
    period = fields.String(validate=validate.Regexp(PERIOD.pattern), load_default=None)
    status = fields.String(validate=validate.OneOf([s.value for s in PayrollStatus]), load_default=None)


def _programmes():
    return db.session.scalars(select(Programme).where(Programme.active).order_by(Programme.id)).all()


def _payrolls_query(filters: dict):
    query = (select(Payroll).join(Programme, Programme.id == Payroll.programme_id)
             .join(Area, Area.id == Payroll.area_id).where(area_clause(current_user, Payroll.area_id)))
    if filters["programme"]:
        query = query.where(Programme.code == filters["programme"])
    if filters["region"]:
        query = query.where(Area.code == filters["region"])
    if filters["period"]:
        query = query.where(Payroll.period == filters["period"])
    if filters["status"]:
        query = query.where(Payroll.status == PayrollStatus(filters["status"]))
    return query.order_by(Payroll.period.desc(), Payroll.id.desc())


@require("payroll.view")
def payroll_list():
    filters = load_filters(PayrollFilterArgs())
    page = db.paginate(_payrolls_query(filters), page=filters["page"], per_page=filters["per_page"], error_out=False)
    return render_template("payments/list.html", page=page, filters=filters, statuses=list(PayrollStatus),
                           programmes=_programmes(), regions=areas_in_scope(current_user, AreaLevel.region),
                           awaiting_funds=_awaiting_funds())


def _unfunded_approved():
    """Approved payrolls in the user's regions that no live fund request covers."""
    return funding.unfunded_approved(area_clause(current_user, Payroll.area_id))


def _awaiting_funds() -> list[tuple[str, int]]:
    """[(month, payrolls)] approved and waiting for a fund request, oldest month first."""
    waiting = _unfunded_approved().subquery()
    return [tuple(row) for row in db.session.execute(
        select(waiting.c.period, func.count()).group_by(waiting.c.period).order_by(waiting.c.period))]


@require("payroll.prepare")
def payroll_request_month_funds():
    period = request.form.get("period", "").strip()
    if not PERIOD.fullmatch(period):
        flash(_("Give the month as YYYY-MM."), "error")
        return redirect(url_for("payments.payroll_list"))
    payrolls = list(db.session.scalars(_unfunded_approved().where(Payroll.period == period).order_by(Payroll.id)))
    try:
        fund_request = funding.request_funds(payrolls, current_user)
    except machine.PayrollError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("payments.payroll_list"))
    message = _funds_message(fund_request)
    db.session.commit()
    flash(_("%(n)d payrolls, %(amount)s UZS: ", n=len(payrolls), amount=f"{fund_request.total_amount:,.2f}"
            .replace(",", " ")) + message, "success" if fund_request.status.value != "refused" else "error")
    return redirect(url_for("payments.payroll_list", period=period))


@require("payroll.prepare")
def payroll_prepare():
    form = request.form
    programme, region, period = (form.get(key, "").strip() for key in ("programme", "region", "period"))
    area = db.session.scalar(select(Area).where(Area.code == region))
    if area is None or not db.session.scalar(select(Area.id).where(Area.id == area.id,
                                                                   area_clause(current_user, Area.id))):
        flash(_("Choose a region you work in."), "error")
        return redirect(url_for("payments.payroll_list"))
    try:
        payroll = generate(programme, region, period, current_user)
        summary = run_checks(payroll, current_user)
    except machine.PayrollError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("payments.payroll_list"))
    db.session.commit()
    flash(_("Payroll %(id)d prepared and checked: %(lines)d lines included, %(excluded)d excluded.",
            id=payroll.id, lines=payroll.line_count, excluded=sum(summary.values())), "success")
    return redirect(url_for("payments.payroll_detail", payroll_id=payroll.id))


def _load_or_404(payroll_id: int) -> Payroll:
    payroll = db.session.scalar(select(Payroll).where(Payroll.id == payroll_id,
                                                      area_clause(current_user, Payroll.area_id)))
    if payroll is None:
        abort(404)  # out of scope looks exactly like missing
    return payroll


def _exclusions(payroll_id: int) -> list[tuple[str, int, object]]:
    """[(reason, lines, amount)] of the excluded lines, largest first."""
    rows = db.session.execute(
        select(PayrollLine.exclusion_reason, func.count(), func.sum(PayrollLine.amount))
        .where(PayrollLine.payroll_id == payroll_id, PayrollLine.status == LineStatus.excluded)
        .group_by(PayrollLine.exclusion_reason)).all()
    return sorted(((reason or "", n, amount) for reason, n, amount in rows), key=lambda row: (-row[1], row[0]))


def _lines_query(payroll_id: int, excluded: bool):
    condition = (PayrollLine.status == LineStatus.excluded) if excluded else (PayrollLine.status != LineStatus.excluded)
    return select(PayrollLine).where(PayrollLine.payroll_id == payroll_id, condition).order_by(PayrollLine.id)


def _with_beneficiaries(lines) -> list[tuple[PayrollLine, Person]]:
    """[(line, beneficiary)] with one query for the people of the lines."""
    people = dict(db.session.execute(
        select(Enrolment.id, Person).join(Person, Person.id == Enrolment.beneficiary_person_id)
        .where(Enrolment.id.in_([line.enrolment_id for line in lines]))).all()) if lines else {}
    return [(line, people[line.enrolment_id]) for line in lines]


def _timeline(payroll_id: int) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "payroll", AuditEvent.object_id == str(payroll_id),
        AuditEvent.action.not_in(("payroll.viewed", "payroll.file_downloaded"))).order_by(AuditEvent.id)).all()


def _approval_block(payroll: Payroll) -> str | None:
    """Why the signed-in user cannot approve this payroll now (None: they can)."""
    if payroll.status is not PayrollStatus.checked or not has_permission(current_user, "payroll.approve"):
        return _("Only a finance checker can approve a checked payroll.")
    if payroll.prepared_by_id is not None and payroll.prepared_by_id == current_user.id:
        return _("You prepared this payroll, so another finance checker must approve it.")
    if not current_user.totp_secret:
        return _("Set up your authenticator before approving payrolls.")
    return None


@require("payroll.view")
def payroll_detail(payroll_id: int):
    payroll = _load_or_404(payroll_id)
    exclusions = _exclusions(payroll.id)
    try:
        page_number = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page_number = 1
    lines = db.paginate(_lines_query(payroll.id, excluded=False), page=page_number, per_page=LINES_PER_PAGE,
                        error_out=False)
    rows = _with_beneficiaries(lines.items)
    # The page lists beneficiaries by name and PIN: a staff read of people's records, so it is audited (DESIGN §8).
    audit.record("payroll.viewed", "payroll", payroll.id, {"page": lines.page}, actor=current_user)
    db.session.commit()
    exceptions = _with_beneficiaries(db.session.scalars(_lines_query(payroll.id, excluded=True).limit(500)).all())
    return render_template(
        "payments/detail.html", payroll=payroll, lines=lines, rows=rows, exceptions=exceptions, exclusions=exclusions,
        excluded_lines=sum(n for _r, n, _a in exclusions), excluded_amount=sum((a or 0) for _r, _n, a in exclusions),
        max_excluded=max([n for _r, n, _a in exclusions] or [1]), reasons=list(CHECKS), timeline=_timeline(payroll.id),
        approval_block=_approval_block(payroll), downloadable=payroll.status in FROZEN, formats=export.FORMATS,
        can_cancel=machine.can_transition(payroll.status, PayrollStatus.cancelled),
        fund_requests=funding.requests_of(payroll.id), live_fund_request=live_fund_request(payroll.id),
        funded=machine.funds_confirmed(payroll.id), transfer=sending.transfer_of(payroll.id))


def _back(payroll_id: int):
    return redirect(url_for("payments.payroll_detail", payroll_id=payroll_id))


def _act(payroll_id: int, operation, done: str, keep_refusal: bool = False):
    """Run `operation(payroll)`; commit and flash `done`, or roll back and flash the refusal.

    `keep_refusal`: a refusal raised before any change is committed anyway, for the audit event it wrote (a wrong
    authenticator code)."""
    payroll = _load_or_404(payroll_id)
    try:
        result = operation(payroll)
    except (machine.IllegalTransition, machine.PayrollConflict) as refusal:
        db.session.rollback()
        flash(_("Nothing changed: %(why)s", why=str(refusal)), "error")
    except (machine.PayrollError, BankFileError) as refusal:
        if keep_refusal:
            db.session.commit()
        else:
            db.session.rollback()
        flash(str(refusal), "error")
    else:
        message = done(result) if callable(done) else done
        db.session.commit()
        flash(message, "success")
    return _back(payroll_id)


def _approve(payroll: Payroll) -> None:
    machine.approve(payroll, current_user, request.form.get("code", ""))


@require("payroll.approve")
def payroll_approve(payroll_id: int):
    return _act(payroll_id, _approve, _("Payroll approved."), keep_refusal=True)


@require("payroll.prepare")
def payroll_cancel(payroll_id: int):
    return _act(payroll_id, lambda p: machine.cancel(p, request.form.get("reason", ""), current_user),
                _("Payroll cancelled; its lines were released so the month can be prepared again."))


def _funds_message(fund_request) -> str:
    if fund_request.status.value == "confirmed":
        return _("The treasury confirmed the funds (%(ref)s): the payroll can be sent to the bank.",
                 ref=fund_request.treasury_reference or fund_request.reference)
    if fund_request.status.value == "refused":
        return _("The treasury refused the request: %(why)s", why=fund_request.refusal_reason or "")
    return _("The request was sent; the treasury has not answered yet.")


@require("payroll.prepare")
def payroll_request_funds(payroll_id: int):
    def request_or_refresh(payroll):
        pending = live_fund_request(payroll.id)
        if pending is not None and pending.status.value == "pending":
            return funding.refresh(pending, current_user)
        return funding.request_funds([payroll], current_user)

    return _act(payroll_id, request_or_refresh, _funds_message)


@require("payroll.prepare")
def payroll_send(payroll_id: int):
    return _act(payroll_id, lambda p: sending.send_to_bank(p, current_user),
                lambda transfer: _("The bank received the file %(msg)s (%(n)d payments); the payroll is sent.",
                                   msg=transfer.message_id, n=transfer.transactions))


@require("payroll.prepare")
def payroll_fetch_statement(payroll_id: int):
    def summary(record) -> str:
        if record.repeat:
            return _("The bank's statement has not changed since it was last fetched: nothing changed.")
        return _("Statement imported: %(paid)d paid, %(failed)d failed, %(returned)d returned, %(other)d exceptions.",
                 paid=record.paid, failed=record.failed, returned=record.returned, other=record.unmatched)

    return _act(payroll_id, lambda p: sending.fetch_statement(p, current_user), summary)


@require("payroll.view")
def payroll_download(payroll_id: int, file_format: str):
    payroll = _load_or_404(payroll_id)
    if file_format not in export.FORMATS:
        abort(404)
    try:
        content = export.render(payroll, file_format)
    except (machine.PayrollError, BankFileError) as refusal:
        flash(str(refusal), "error")
        return _back(payroll_id)
    audit.record("payroll.file_downloaded", "payroll", payroll.id, {"format": file_format}, actor=current_user)
    db.session.commit()
    name = f"payroll-{payroll.id}-{payroll.period}-{file_format}.{SUFFIX[file_format]}"
    return Response(content, mimetype=MIME[file_format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _qr_svg(uri: str) -> str | None:
    """The URI as an inline SVG QR code, or None when segno is not installed."""
    try:
        import segno
    except ImportError:
        return None
    return segno.make(uri, error="m").svg_inline(scale=4)


@require("account.authenticator")
def authenticator():
    user = current_user
    if request.method == "POST":
        action = request.form.get("action")
        if action == "setup":
            totp.enable(user, actor=user)
            db.session.commit()
            flash(_("A new authenticator key was made. Add it to your app, then confirm with a code."), "success")
        elif action == "confirm":
            if user.totp_secret and totp.verify(user, request.form.get("code", "")):
                db.session.commit()
                flash(_("Authenticator confirmed: you can use its codes to approve payrolls."), "success")
            else:
                db.session.rollback()
                flash(_("The code is wrong or was already used; nothing changed. Try the next code."), "error")
        return redirect(url_for("payments.authenticator"))
    # Confirmed = a code of this secret was accepted once (enable() clears the last used step).
    confirmed = bool(user.totp_secret) and user.totp_last_step is not None
    uri = totp.provisioning_uri(user) if user.totp_secret and not confirmed else None
    return render_template("payments/authenticator.html", has_secret=bool(user.totp_secret), confirmed=confirmed,
                           uri=uri, secret=user.totp_secret if uri else None, qr=_qr_svg(uri) if uri else None)
