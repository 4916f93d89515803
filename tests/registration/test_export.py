"""Export of the application list: a job (inline in tests) writing a CSV that only its owner can download."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from modules.registration import operations
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.registration.helpers import commit, read_csv, register
from webapp.extensions import db
from webapp.models import Job, JobStatus

COLUMNS = ["reference", "status", "channel", "area", "applicant_pin", "applicant", "members", "programmes",
           "created_at", "submitted_at", "due_at"]


@pytest.fixture
def apps(tk_registrar, sa_registrar):
    tk = [register(factories.application_payload(factories.make_family("UZ-TK", children=n)), tk_registrar)
          for n in (0, 1, 2)]
    operations.withdraw(tk[2], tk_registrar, "moved")
    sa = register(factories.application_payload(factories.make_family("UZ-SA")), sa_registrar)
    commit()
    return {"tk": tk, "sa": sa}


def export(client, **filters) -> str:
    response = client.post("/applications/export", data={"csrf_token": client.csrf, **filters})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith("/jobs/")
    return location.removeprefix("/jobs/")


def job(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def download(client, job_id: str) -> list[list[str]]:
    response = client.get(f"/jobs/{job_id}/file")
    assert response.status_code == 200
    assert f"applications-{job_id}.csv" in response.headers["Content-Disposition"]
    return read_csv(response.get_data())


def test_export_writes_one_row_per_visible_application(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    job_id = export(client)

    finished = job(job_id)
    assert finished.status is JobStatus.finished
    assert finished.progress == 100
    assert finished.created_by_id == tk_registrar.id
    assert finished.kind == "modules.registration.tasks:export_applications"
    assert finished.result == {"file": f"applications-{job_id}.csv", "rows": 3}

    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert f"/jobs/{job_id}/file" in page.get_data(as_text=True)

    rows = download(client, job_id)
    assert rows[0] == COLUMNS
    assert len(rows) == 4
    assert sorted(row[0] for row in rows[1:]) == sorted(app.reference for app in apps["tk"])
    assert apps["sa"].reference not in {row[0] for row in rows}


def test_export_row_content(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    rows = {row[0]: row for row in download(client, export(client))[1:]}
    application = apps["tk"][1]
    row = rows[application.reference]
    assert row == [application.reference, "submitted", "office", application.area.code, application.applicant.pin,
                   application.applicant.full_name, "3", "child_allowance", application.created_at.isoformat(),
                   application.submitted_at.isoformat(), application.due_at.isoformat()]
    assert rows[apps["tk"][2].reference][1] == "withdrawn"


@pytest.mark.parametrize(("filters", "expected"), [
    ({"status": "withdrawn"}, [2]),
    ({"status": "submitted"}, [0, 1]),
    ({"q": "nobody"}, []),
])
def test_export_applies_the_filters(client, tk_registrar, apps, filters, expected):
    sign_in(client, tk_registrar)
    job_id = export(client, **filters)
    rows = download(client, job_id)
    assert rows[0] == COLUMNS
    assert sorted(row[0] for row in rows[1:]) == sorted(apps["tk"][i].reference for i in expected)
    assert job(job_id).result["rows"] == len(expected)


def test_another_user_cannot_see_the_job(app, client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    job_id = export(client)
    other = sign_in(app.test_client(), factories.make_user("registrar", areas=["UZ-TK"]))
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/file", f"/jobs/{job_id}.json"):
        assert other.get(path).status_code == 404, path
    assert job_id not in other.get("/jobs").get_data(as_text=True)
    assert client.get(f"/jobs/{job_id}.json").get_json()["has_file"] is True  # the owner still can


def test_admin_sees_every_job(app, client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    job_id = export(client)
    admin = sign_in(app.test_client(), factories.make_user("admin", national=True))
    assert admin.get(f"/jobs/{job_id}").status_code == 200


def test_export_needs_the_csrf_token(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    jobs_before = db.session.scalar(select(db.func.count()).select_from(Job))
    assert client.post("/applications/export", data={}).status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(Job)) == jobs_before


def test_export_needs_a_signed_in_user(client, apps):
    jobs_before = db.session.scalar(select(db.func.count()).select_from(Job))
    response = client.post("/applications/export", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert db.session.scalar(select(db.func.count()).select_from(Job)) == jobs_before


def test_export_by_a_national_auditor_counts_every_row(app, client, apps):
    auditor = factories.make_user("auditor", national=True)
    sign_in(client, auditor)
    job_id = export(client)
    rows = download(client, job_id)
    assert len(rows) - 1 == 4
    assert job(job_id).result["rows"] == 4
