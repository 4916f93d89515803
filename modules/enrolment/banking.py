"""Bank accounts for payees through the bank connector: send the payee list, follow each request's status.

`open_accounts` links enrolments without an account to their payee's account, requesting one (once per person)
where there is none, sends every request the bank has not confirmed yet (the bank dedupes by our request id, so
sending again is harmless) and records the answers. `sync_accounts` only asks how open requests stand (requested →
opened → card issued). Nothing here commits; the job or command that calls them does.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from connectors.bank import Payee
from connectors.partners import bank_connector
from modules.enrolment import operations
from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from modules.enrolment.status import IllegalAccountTransition, account_transition
from modules.registration.models import Person
from webapp.extensions import db

A = BankAccountStatus
FOLLOWED = (A.requested, A.opened)  # statuses the bank may still move on


def open_accounts(enrolment_ids: list[int] | None = None, actor=None) -> dict[str, int]:
    """Request accounts for enrolments that have none (all active ones when no ids are given), then sync."""
    query = select(Enrolment).where(Enrolment.status != EnrolmentStatus.ended, Enrolment.bank_account_id.is_(None))
    if enrolment_ids is not None:
        query = query.where(Enrolment.id.in_(enrolment_ids))
    enrolments = list(db.session.scalars(query.order_by(Enrolment.id)))
    new = operations.request_bank_accounts(enrolments, current_app.config["PAYEE_BANK_CODE"], actor)
    pending = list(db.session.scalars(select(BankAccount).where(BankAccount.status == A.requested)
                              .order_by(BankAccount.id)))
    if pending:
        bank_connector().request_accounts([_payee(account) for account in pending])
    return {"requested": len(new), "sent": len(pending), **sync_accounts(actor=actor)}


def sync_accounts(actor=None) -> dict[str, int]:
    """Ask the bank about every account it may still move on; record what changed."""
    followed = db.session.scalars(select(BankAccount).where(BankAccount.status.in_(FOLLOWED)))
    accounts = {account.request_id: account for account in followed}
    changed = {"opened": 0, "card_issued": 0, "rejected": 0}
    if not accounts:
        return changed
    for answer in bank_connector().account_statuses(sorted(accounts)):
        account = accounts.get(answer.request_id)
        if account is None:
            continue
        try:
            changed_to = _apply(account, answer, actor)
        except (IllegalAccountTransition, operations.EnrolmentError):
            continue  # an answer that does not fit what we know is left for the next sync, never guessed
        if changed_to:
            changed[changed_to] += 1
    return changed


def _apply(account: BankAccount, answer, actor) -> str | None:
    if answer.status in ("opened", "card_issued") and account.status is A.requested:
        operations.record_account_opened(account, answer.account_number or "", actor)
        if answer.status == "opened":
            return "opened"
    if answer.status == "card_issued" and account.status is A.opened:
        operations.record_card_issued(account, actor)
        return "card_issued"
    if answer.status == "rejected" and account.status in FOLLOWED:
        account_transition(account, A.closed, actor, {"by": "bank"})
        return "rejected"
    return None


def _payee(account: BankAccount) -> Payee:
    person: Person = account.person
    return Payee(request_id=account.request_id, pin=person.pin, last_name=person.last_name,
                 first_name=person.first_name, birth_date=person.birth_date.isoformat(), bank_code=account.bank_code)
