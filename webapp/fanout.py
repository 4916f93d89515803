"""Fan-out: one job split into parts (one per region, say), each a job of its own, the result assembled at the end.

A task registered with `fan_out` plans its parts; each part becomes a job of the `child` task with its own
progress, retries and outcome. A part is linked to its parent by its subject (`job:<parent id>`) and named by its
dedupe key (`<parent id>:<part key>`), so a parent planning twice still makes each part once. The parent then
waits: running, with no worker and no lease (`jobs.Waiting`), so the sweeper leaves it alone.

Each part's final outcome is counted in the part's own transaction, with the parent's row locked (the parts that
finish at the same moment take turns, and each sees the others' outcomes): the parent's progress is the parts
finished out of all of them. The part that finishes last queues the parent again, and the parent assembles the
parts' results: once, since only the part that moves it out of waiting queues it, and a repeated run (a worker
that died) assembles the same result again. A failed part leaves the parent failed once nothing else runs;
`retry` runs it again alone, the parent waits again, and the other parts' results stay as they are.

With rq the parts run on whichever `srsp worker` takes them, on this machine or any other sharing the database and
Redis; inline (no Redis), one after the other after the parent's commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import g
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from webapp.auth.permissions import has_permission
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.jobs import Task, Waiting, enqueue, requeue, resolve, task
from webapp.jobs import _pending as pending_dispatch
from webapp.models import Area, AreaLevel, Job, JobStatus
from webapp.signals import job_settled
from webapp.timeutil import utcnow

_PARENT = "job:"


@dataclass(frozen=True)
class Part:
    """One part of a fanned-out job: a short key unique within it ("UZ-TK"), the title people see, and the child
    task's parameters (ids and codes only)."""

    key: str
    title: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FanOut:
    """A registered fanned-out task: how it plans its parts, the task each part runs, how it assembles their
    results, who may retry a failed part, what a part's result["done"] counts (shown per part on the job page),
    and the template that shows the assembled result there (given `result`)."""

    parent: Task
    child: Task
    plan: Callable[..., list[Part]]
    assemble: Callable[..., dict]
    permission: str
    done_label: object
    result_template: str | None = None
    part_label: Callable[[str], str] | None = None

    def label(self, part: Job) -> str:
        """What people read for a part: its label in their language when the fan-out has one, else its title."""
        return (self.part_label(part_key(part)) if self.part_label else None) or part.title or part_key(part)


FANOUTS: dict[str, FanOut] = {}


class PartsFailed(Exception):
    """Some parts failed and none still runs: the parent cannot assemble until they are retried."""


def fan_out(queue: str, *, child: Task, assemble: Callable[..., dict], permission: str, done_label=None,
            part_label: Callable[[str], str] | None = None, result_template: str | None = None,
            timeout: int = 600) -> Callable[[Callable[..., list[Part]]], Task]:
    """Register `plan(**params) -> [Part]` as a task that runs `child` once per part (child(job_id, **part.params))
    and, when all have finished, returns `assemble({part key: part's result}, **params)` as its own result.
    `permission` names who may retry a failed part; `done_label` what a part's result["done"] counts;
    `part_label(key)` names a part in the reader's language; `result_template` shows the assembled result."""

    def register(plan: Callable[..., list[Part]]) -> Task:
        def run(job_id: str, **params):
            return _run(job_id, FANOUTS[parent.name], params)

        run.__module__, run.__name__, run.__doc__ = plan.__module__, plan.__name__, plan.__doc__
        parent = task(queue, timeout=timeout)(run)
        FANOUTS[parent.name] = FanOut(parent=parent, child=child, plan=plan, assemble=assemble,
                                      permission=permission, done_label=done_label or _l("Done"),
                                      result_template=result_template, part_label=part_label)
        return parent

    return register


def _run(job_id: str, spec: FanOut, params: dict):
    parts = parts_of(job_id)
    if not parts:
        return _start(job_id, spec, params)
    counts = Counter(part.status for part in parts)
    finished = counts[JobStatus.finished]
    if finished == len(parts):
        return spec.assemble({part_key(part): part.result or {} for part in parts}, **params)
    if counts[JobStatus.queued] or counts[JobStatus.running]:  # a restarted parent: its parts still run
        return Waiting(_progress(finished, len(parts)), _tally(finished, len(parts)))
    raise PartsFailed(f"{counts[JobStatus.failed]} of {len(parts)} parts failed")


def _start(job_id: str, spec: FanOut, params: dict):
    """Make a job per planned part; nothing planned is assembled at once (from no results)."""
    planned = spec.plan(**params)
    if not planned:
        return spec.assemble({}, **params)
    creator = db.session.get(Job, job_id).created_by
    for part in planned:
        enqueue(spec.child, title=part.title, user=creator, subject=subject_of(job_id),
                dedupe_key=f"{job_id}:{part.key}", **part.params)
    return Waiting(0, _tally(0, len(planned)))


def _progress(finished: int, total: int) -> int:
    return 100 * finished // max(total, 1)


def _tally(finished: int, total: int) -> str:
    return f"{finished}/{total}"


def regions() -> list[Area]:
    """The country's regions, the usual parts of a national job."""
    return list(db.session.scalars(select(Area).where(Area.level == AreaLevel.region).order_by(Area.code)))


def region_name(code: str) -> str | None:
    """A region's name in the reader's language (the `part_label` of jobs split by region); the regions are read
    once per request, not once per part."""
    if "fanout_region_names" not in g:
        g.fanout_region_names = {region.code: region.name for region in regions()}
    return g.fanout_region_names.get(code)


# --- links between a parent and its parts ---------------------------------------------------------------------


def subject_of(parent_id: str) -> str:
    return f"{_PARENT}{parent_id}"


def parent_of(subject: str | None) -> str | None:
    """The parent job's id of a part's subject; None for any other job."""
    if subject and subject.startswith(_PARENT):
        return subject[len(_PARENT):]
    return None


def parts_of(parent_id: str) -> list[Job]:
    """The parent's parts, in the order of their titles."""
    return list(db.session.scalars(select(Job).where(Job.subject == subject_of(parent_id))
                                   .order_by(Job.title, Job.id).execution_options(populate_existing=True)))


def not_a_part():
    """WHERE clause: jobs that are not a part of another (the jobs people follow in a list)."""
    return or_(Job.subject.is_(None), Job.subject.not_like(f"{_PARENT}%"))


def part_key(part: Job) -> str:
    return (part.dedupe_key or "").partition(":")[2]


def spec_of(job: Job) -> FanOut | None:
    """The fan-out a job is the parent or a part of."""
    if job.kind in FANOUTS:
        return FANOUTS[job.kind]
    parent_id = parent_of(job.subject)
    parent = db.session.get(Job, parent_id) if parent_id else None
    return FANOUTS.get(parent.kind) if parent is not None else None


def _locked(job_id: str) -> Job | None:
    return db.session.scalar(select(Job).where(Job.id == job_id).with_for_update()
                             .execution_options(populate_existing=True))


def _waiting(job: Job) -> bool:
    return job.status is JobStatus.running and job.worker is None


# --- counting the parts' outcomes ---------------------------------------------------------------------------------


@job_settled.connect
def _a_job_settled(_sender, subject: str | None = None, **_kwargs) -> None:
    parent_id = parent_of(subject)
    if parent_id is not None:
        part_settled(parent_id)


def part_settled(parent_id: str) -> None:
    """A part has its final outcome (in this transaction): move the parent's progress; queue it to assemble when
    every part has finished, or mark it failed when the others have all ended and some failed."""
    parent = _locked(parent_id)  # the parts finishing together take turns here, each seeing the others' outcome
    if parent is None or not _waiting(parent):
        return  # assembling already, or retried: nothing to count
    counts = Counter(db.session.scalars(select(Job.status).where(Job.subject == subject_of(parent_id))))
    total, finished, failed = sum(counts.values()), counts[JobStatus.finished], counts[JobStatus.failed]
    values = {"progress": _progress(finished, total), "message": _tally(finished, total)}
    if finished == total:
        values |= {"status": JobStatus.queued, "dispatched_at": None, "dispatch_id": None}
        task_ = resolve(parent.kind)
        pending_dispatch(db.session).append((parent.id, parent.queue, 0, task_.timeout))
    elif finished + failed == total:
        values |= {"status": JobStatus.failed, "finished_at": utcnow(),
                   "error": f"{PartsFailed.__name__}: {failed} of {total} parts failed"}
    db.session.execute(update(Job).where(Job.id == parent_id).values(**values))


# --- retrying -------------------------------------------------------------------------------------------------


class NotRetryable(Refusal):
    pass


def may_retry(user, job: Job) -> bool:
    """Whether `user` may run this failed job (a part, or a parent with failed parts) again."""
    if job.status is not JobStatus.failed:
        return False
    spec = spec_of(job)
    return spec is not None and has_permission(user, spec.permission)


def retry(job: Job) -> list[Job]:
    """Run a failed part again alone, or a failed parent's failed parts (or its assembly, when all its parts
    finished); the parent waits for them again. Returns the jobs queued. The caller commits."""
    parent_id = job.id if job.kind in FANOUTS else parent_of(job.subject)
    parent = _locked(parent_id) if parent_id else None  # the parent first, as the parts' counting takes it
    if parent is None:
        raise NotRetryable(_l("Only a job split into parts, or one of its parts, can be retried here."))
    if _locked(job.id).status is not JobStatus.failed:
        raise NotRetryable(_l("This job has not failed: there is nothing to retry."))
    again = [job]
    if job.id == parent.id:
        again = [part for part in parts_of(parent.id) if part.status is JobStatus.failed] or [parent]
    for item in again:
        requeue(item)
    if parent not in again and parent.status is JobStatus.failed:
        parent.status, parent.finished_at, parent.error = JobStatus.running, None, None
        parent.worker = parent.lease_until = None
    return again
