"""Helpers of the registration tests (plain functions; the fixtures are in conftest.py). Builders that other
packages use too (register, register_family, bearer, commit) live in tests/factories.py and are named here as well."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from modules.registration import operations
from modules.registration import status as status_machine
from modules.registration.models import (
    Application,
    ApplicationEvent,
    ApplicationMember,
    ApplicationStatus,
    Household,
    HouseholdMember,
)
from tests.factories import bearer, commit, register, register_family
from webapp.extensions import db
from webapp.models import AuditEvent

__all__ = ["COUNTED", "PATH_FROM_DRAFT", "S", "advance", "bearer", "commit", "count", "counts", "delta", "iso",
           "read_csv", "references_in", "refuse", "register", "register_family"]

S = ApplicationStatus
COUNTED = {
    "application": Application,
    "application_member": ApplicationMember,
    "application_event": ApplicationEvent,
    "household": Household,
    "household_member": HouseholdMember,
    "audit_event": AuditEvent,
}

# How to reach each status from a fresh draft, through legal transitions only.
PATH_FROM_DRAFT = {
    S.draft: [],
    S.submitted: [S.submitted],
    S.collecting: [S.submitted, S.collecting],
    S.collected: [S.submitted, S.collecting, S.collected],
    S.manual_verification: [S.submitted, S.collecting, S.manual_verification],
    S.assessed: [S.submitted, S.collecting, S.collected, S.assessed],
    S.decided: [S.submitted, S.collecting, S.collected, S.assessed, S.decided],
    S.withdrawn: [S.withdrawn],
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> dict[str, int]:
    db.session.flush()
    return {name: count(model) for name, model in COUNTED.items()}


def delta(before: dict[str, int]) -> dict[str, int]:
    """What changed since `before`, leaving out the tables that did not."""
    after = counts()
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def refuse(payload: dict, actor, **overrides) -> dict[str, list[str]]:
    """Register, expect a RegistrationError, check that no row was written; returns the errors."""
    before = counts()
    with pytest.raises(operations.RegistrationError) as refusal:
        register(payload, actor, **overrides)
    assert counts() == before, "a refused registration wrote rows"
    return refusal.value.errors


def advance(application: Application, target: ApplicationStatus, actor) -> Application:
    """Move an application (a draft or further along its path) to `target` through legal transitions."""
    for step in PATH_FROM_DRAFT[target][len(PATH_FROM_DRAFT.get(application.status, [])):]:
        if step is S.submitted:
            operations.submit(application, actor)
        elif step is S.withdrawn:
            operations.withdraw(application, actor, "test withdrawal")
        else:
            status_machine.transition(application, step, actor)
    db.session.flush()
    assert application.status is target
    return application


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


_REFERENCE = re.compile(r"A-\d{6}-\d{6}")


def references_in(html: str) -> set[str]:
    return set(_REFERENCE.findall(html))


def iso(day: date) -> str:
    return day.isoformat()
