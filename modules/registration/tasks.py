"""Registration jobs (run by rq workers or inline). They take ids, never ORM objects."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select

from modules.registration import operations
from modules.registration.schemas import ApplicationFilterArgs
from webapp.extensions import db
from webapp.jobs import report_progress, task
from webapp.models import User

_BATCH = 500
_COLUMNS = ["reference", "status", "channel", "area", "applicant_pin", "applicant", "members", "programmes",
            "created_at", "submitted_at", "due_at"]


@task("reports", timeout=3600)
def export_applications(job_id: str, user_id: int, filters: dict) -> dict:
    """Write the user's filtered application list to a CSV file; idempotent (same job id, same file)."""
    user = db.session.get(User, user_id)
    try:
        args = ApplicationFilterArgs().load(filters)
    except ValidationError:
        args = ApplicationFilterArgs().load({})
    query = operations.filtered_applications(user, args)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    folder = Path(current_app.config["INSTANCE_DIR"]) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"applications-{job_id}.csv"
    with open(folder / name, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for done, application in enumerate(db.session.scalars(query.execution_options(yield_per=_BATCH)), 1):
            writer.writerow(_row(application))
            if done % _BATCH == 0:
                report_progress(job_id, done * 100 // max(total, 1), f"{done}/{total}")
    return {"file": name, "rows": total}


def _row(application) -> list:
    return [application.reference, application.status.value, application.channel.value, application.area.code,
            application.applicant.pin, application.applicant.full_name, len(application.members),
            " ".join(p.code for p in application.programmes), application.created_at.isoformat(),
            application.submitted_at.isoformat() if application.submitted_at else "",
            application.due_at.isoformat() if application.due_at else ""]
