"""Means-test jobs (rq or inline). They take ids and are idempotent."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from connectors.transport.errors import CircuitOpen, SourceTimeout, SourceUnavailable
from modules.means_test.collection import collect as collect_sources
from modules.means_test.recertification import recertify
from modules.registration.models import Application, ApplicationMember
from webapp import fanout
from webapp.extensions import db
from webapp.jobs import Retry, report_progress, task
from webapp.models import User
from webapp.timeutil import local_today

# A registry that is down for longer than the collection's own rounds: the whole collection is tried again later.
COLLECTION_RETRY = Retry(attempts=3, backoff=10, transient=(SourceTimeout, SourceUnavailable, CircuitOpen, OSError))


@task("collection", retry=COLLECTION_RETRY, timeout=300)
def collect(job_id: str, application_id: int, sources: list[str] | None = None, user_id: int | None = None,
            probe: bool = False) -> dict:
    # Locked: two runs of the same collection (a restarted job and the one it replaced) take turns, and the
    # second finds the application no longer collecting. Its members and their persons come in one query each:
    # every step of the collection reads them.
    application = db.session.scalar(select(Application).where(Application.id == application_id).with_for_update()
                                    .options(selectinload(Application.members).selectinload(ApplicationMember.person)))
    if application is None:
        return {"skipped": "no such application"}
    user = db.session.get(User, user_id) if user_id else None
    return collect_sources(application, sources, user, probe=probe)


@task("default", timeout=24 * 3600)
def recertify_region(job_id: str, as_of: str, region: str, user_id: int | None = None) -> dict:
    """One region's part of the monthly recertification."""
    user = db.session.get(User, user_id) if user_id else None
    counts = recertify(date.fromisoformat(as_of), progress=lambda done, total: report_progress(
        job_id, 100 * done // max(total, 1), f"{done}/{total}"), actor=user, region=region)
    return {**counts, "region": region, "done": counts["due"]}


def assemble_recertification(results: dict[str, dict], as_of: str | None = None, user_id: int | None = None) -> dict:
    """The national counts, and each region's."""
    keys = ("due", "eligible", "ineligible")
    regions = {code: {key: result.get(key, 0) for key in keys} for code, result in results.items()}
    return {**{key: sum(region[key] for region in regions.values()) for key in keys}, "regions": regions}


# The national run is the system's (the schedule starts it): the staff who see every job may retry a region.
@fanout.fan_out("default", child=recertify_region, assemble=assemble_recertification, permission="job.view_all",
                done_label=_l("Households"), part_label=fanout.region_name)
def recertify_households(as_of: str | None = None, user_id: int | None = None) -> list[fanout.Part]:
    """The monthly recertification as a tracked job, one part per region (as of today by default)."""
    day = as_of or local_today().isoformat()  # every region recertifies as of the same day
    return [fanout.Part(key=region.code, title=region.name,
                        params={"as_of": day, "region": region.code, "user_id": user_id})
            for region in fanout.regions()]
