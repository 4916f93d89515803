"""Pages that belong to no module: the home redirect (staff to their first page, others to the portal), the jobs
page, health."""

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select, text

from webapp import fanout
from webapp.auth.permissions import has_permission
from webapp.extensions import db
from webapp.home import home_url
from webapp.models import Job

bp = Blueprint("core", __name__)


@bp.route("/")
def index():
    # Anonymous visitors are mostly citizens: the portal's home; staff sign in at /login (linked from there).
    if not current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    return redirect(home_url(current_user))


@bp.route("/healthz")
def health():
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def _visible_jobs():
    # Jobs without a title are the system's own (collections, SMS sends, sweeps): not something people follow.
    query = select(Job).where(Job.title.is_not(None)).order_by(Job.created_at.desc())
    if not has_permission(current_user, "job.view_all"):
        query = query.where(Job.created_by_id == current_user.id)
    return query


def _job_or_404(job_id: str) -> Job:
    job = db.session.scalar(_visible_jobs().where(Job.id == job_id))
    if job is None:
        abort(404)
    return job


@bp.route("/jobs")
@login_required
def job_list():
    # A job split into parts is listed once: its page shows the parts.
    jobs = db.session.scalars(_visible_jobs().where(fanout.not_a_part()).limit(100)).all()
    return render_template("core/jobs.html", jobs=jobs)


@bp.route("/jobs/<job_id>")
@login_required
def job_detail(job_id):
    job = _job_or_404(job_id)
    spec = fanout.spec_of(job)
    is_parent = spec is not None and job.kind == spec.parent.name
    parts = fanout.parts_of(job.id) if is_parent else []
    parent_id = fanout.parent_of(job.subject)
    return render_template("core/job.html", job=job, spec=spec, is_parent=is_parent, parts=parts,
                           labels={fanout.part_key(part): spec.label(part) for part in parts},  # by part key
                           parent=_job_or_404(parent_id) if parent_id else None,
                           may_retry=lambda item: fanout.may_retry(current_user, item))


@bp.route("/jobs/<job_id>.json")
@login_required
def job_status(job_id):
    job = _job_or_404(job_id)
    return jsonify({"id": job.id, "status": job.status.value, "progress": job.progress, "message": job.message,
                    "done": job.done, "has_file": bool(job.result and job.result.get("file")),
                    "parts": [{"id": part.id, "status": part.status.value, "status_label": _(part.status.value),
                               "progress": part.progress, "done": (part.result or {}).get("done"),
                               "message": part.message}
                              for part in fanout.parts_of(job.id)]})


@bp.route("/jobs/<job_id>/retry", methods=["POST"])
@login_required
def job_retry(job_id):
    """Run a failed part (or a failed job's failed parts) again; the others keep their results."""
    job = _job_or_404(job_id)
    if not fanout.may_retry(current_user, job):
        abort(403)
    again = fanout.retry(job)
    flash(_("Queued again: %(jobs)s.", jobs=", ".join(item.title or item.id for item in again)), "success")
    parent_id = fanout.parent_of(job.subject) or job.id
    return redirect(url_for("core.job_detail", job_id=parent_id))


@bp.route("/jobs/<job_id>/file")
@login_required
def job_file(job_id):
    job = _job_or_404(job_id)
    name = (job.result or {}).get("file")
    if not name:
        abort(404)
    path = Path(current_app.config["INSTANCE_DIR"]) / "exports" / Path(name).name
    if not path.exists():
        abort(404)
    return send_file(path, as_attachment=True, download_name=Path(name).name)
