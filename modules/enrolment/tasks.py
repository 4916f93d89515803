"""Enrolment jobs: bank accounts for new beneficiaries (idempotent: a repeat sends and records nothing new)."""

from __future__ import annotations

from connectors.transport.errors import CircuitOpen, SourceTimeout, SourceUnavailable
from modules.enrolment.banking import open_accounts, sync_accounts
from webapp.jobs import Retry, task

# The bank may be briefly unreachable; the next attempt sends the same requests, which the bank dedupes.
BANK_RETRY = Retry(attempts=4, backoff=60, transient=(SourceTimeout, SourceUnavailable, CircuitOpen, OSError))


@task("payments", retry=BANK_RETRY, timeout=900)
def open_bank_accounts(job_id: str, enrolment_ids: list[int] | None = None) -> dict:
    """Request accounts at the bank for these enrolments' payees and record how the bank answered."""
    return open_accounts(enrolment_ids)


@task("payments", retry=BANK_RETRY, timeout=1800)
def sync_bank_accounts(job_id: str) -> dict:
    """Ask the bank how every open account request stands."""
    return sync_accounts()
