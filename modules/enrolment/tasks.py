"""Enrolment jobs: bank accounts for new beneficiaries (idempotent: a repeat sends and records nothing new)."""

from __future__ import annotations

from modules.enrolment.banking import open_accounts, sync_accounts


def open_bank_accounts(job_id: str, enrolment_ids: list[int] | None = None) -> dict:
    """Request accounts at the bank for these enrolments' payees and record how the bank answered."""
    return open_accounts(enrolment_ids)


def sync_bank_accounts(job_id: str) -> dict:
    """Ask the bank how every open account request stands."""
    return sync_accounts()
