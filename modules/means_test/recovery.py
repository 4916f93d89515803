"""The periodic job that resumes collections which lost their job (it enqueues `tasks.collect` again)."""

from __future__ import annotations

from modules.means_test.operations import resume_stranded
from webapp.jobs import task


@task("collection", timeout=600)
def resume_stranded_applications(job_id: str) -> dict:
    """Start again the collections that lost their job (a killed worker, a lost hand-over)."""
    return resume_stranded()
