"""Export of the application list: a job (inline in tests) writing a CSV that only its owner can download."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale, gettext
from openpyxl import load_workbook
from sqlalchemy import select

from modules.means_test.models import Assessment, Decision
from modules.registration import operations, tasks
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.registration.helpers import commit, read_csv, register
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.timeutil import local_time

COLUMNS = ["Reference", "Status", "Channel", "Region", "District", "Mahalla", "PIN", "Applicant", "Members",
           "Programmes", "Registered", "Submitted", "Decision due", "Decision", "Monthly amount, UZS"]


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


def areas_of(application) -> list[str]:
    """Region, district and mahalla names (English) of the application's area."""
    chain, area = {}, application.area
    while area is not None:
        chain[area.level.value] = area.name_en
        area = area.parent
    return [chain.get(level, "") for level in ("region", "district", "mahalla")]


def test_export_row_content(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    rows = {row[0]: row for row in download(client, export(client))[1:]}
    application = apps["tk"][1]
    row = rows[application.reference]
    created, submitted = local_time(application.created_at), local_time(application.submitted_at)
    assert row == [application.reference, "Submitted", "Office", *areas_of(application), application.applicant.pin,
                   application.applicant.full_name, "3", "Child allowance", created.strftime("%d.%m.%Y %H:%M"),
                   submitted.strftime("%d.%m.%Y %H:%M"), application.due_at.strftime("%d.%m.%Y"), "", ""]
    assert all(row[3:6]) and not any(name.startswith("UZ-") for name in row[3:6])  # names, not codes
    assert rows[apps["tk"][2].reference][1] == "Withdrawn"


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


# --- words in the reader's language, local times, the decision, and the XLSX version ----------------------------


def assess(application, decision: str = "eligible", amount: str = "1250000.00") -> None:
    db.session.add(Assessment(
        application_id=application.id, household_id=application.household_id, kind="initial", pack_id="uz",
        pack_version="test", engine="durable_rules", as_of=date(2025, 11, 10), decision=Decision(decision),
        per_capita_income=Decimal("100000.00"), monthly_total=Decimal(amount), reasons=[], programmes=[], facts={},
        trace={}))
    db.session.flush()


def test_export_is_in_the_users_language(app, client, apps):
    reader = factories.make_user("registrar", areas=["UZ-TK"], language="ru")
    commit()
    sign_in(client, reader)
    rows = download(client, export(client))
    assert rows[0][:3] == ["Номер", "Статус", "Канал обращения"]
    assert rows[0][7] == "Заявитель"
    with force_locale("ru"):
        assert rows[0] == [column.header() for column in tasks.COLUMNS]
    by_reference = {row[0]: row for row in rows[1:]}
    withdrawn = apps["tk"][2]
    assert by_reference[withdrawn.reference][1] == "Отозвано"
    assert by_reference[withdrawn.reference][5] == withdrawn.area.name_ru
    assert "withdrawn" not in {row[1] for row in rows[1:]}


def test_export_times_are_tashkent_times(client, tk_registrar, apps):
    application = apps["tk"][0]
    application.created_at = datetime(2025, 5, 9, 20, 30, tzinfo=UTC)  # 01:30 the next day in Tashkent (UTC+5)
    commit()
    sign_in(client, tk_registrar)
    row = {row[0]: row for row in download(client, export(client))}[application.reference]
    assert row[10] == "10.05.2025 01:30"


def test_export_has_the_decision_and_the_monthly_amount(client, tk_registrar, apps):
    assess(apps["tk"][0], "ineligible", "0")
    assess(apps["tk"][1], "eligible", "1")  # a first assessment, superseded by the next
    assess(apps["tk"][1], "eligible", "1250000.00")
    commit()
    sign_in(client, tk_registrar)
    rows = {row[0]: row for row in download(client, export(client))}
    assert rows[apps["tk"][1].reference][13:] == [gettext("eligible"), "1250000.00"]
    assert rows[apps["tk"][0].reference][13:] == [gettext("ineligible"), "0.00"]
    assert rows[apps["tk"][2].reference][13:] == ["", ""]  # not assessed


def test_the_list_page_offers_both_exports(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    page = client.get("/applications").get_data(as_text=True)
    assert 'name="format" value="csv"' in page and 'name="format" value="xlsx"' in page
    assert "Export CSV" in page and "Export Excel (XLSX)" in page


def test_an_unknown_format_is_written_as_csv(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    job_id = export(client, format="pdf")
    assert job(job_id).result["file"] == f"applications-{job_id}.csv"
    assert job(job_id).result["rows"] == 3  # "format" is not taken for a filter


def test_xlsx_export(client, tk_registrar, apps):
    application = apps["tk"][1]
    application.created_at = datetime(2025, 5, 9, 20, 30, tzinfo=UTC)
    assess(application, "eligible", "1250000.50")
    commit()
    sign_in(client, tk_registrar)
    job_id = export(client, format="xlsx", status="submitted")
    assert job(job_id).result == {"file": f"applications-{job_id}.xlsx", "rows": 2}
    response = client.get(f"/jobs/{job_id}/file")
    assert response.status_code == 200
    assert f"applications-{job_id}.xlsx" in response.headers["Content-Disposition"]

    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == COLUMNS
    header = sheet["A1"]
    assert header.font.bold and header.fill.fgColor.rgb.endswith("1F4E79")
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["H"].width >= 30  # the applicant's name
    assert sheet.auto_filter.ref == "A1:O3"

    rows = {row[0]: row for row in values[1:]}
    assert set(rows) == {apps["tk"][0].reference, application.reference}
    row = rows[application.reference]
    assert row[1] == "Submitted" and row[2] == "Office"
    assert row[8] == 3 and isinstance(row[8], int)
    assert row[10] == datetime(2025, 5, 10, 1, 30)  # a real date and time, in Tashkent
    assert isinstance(row[12], datetime) and row[12].date() == application.due_at
    assert row[13] == gettext("eligible")
    assert row[14] == 1250000.5 and isinstance(row[14], float | int)
    assert sheet.cell(row=2, column=11).number_format == "DD.MM.YYYY HH:MM"
    amounts = [sheet.cell(row=r, column=15) for r in (2, 3)]
    assert {cell.number_format for cell in amounts if cell.value is not None} == {"#,##0.00"}
    assert rows[apps["tk"][0].reference][14] is None  # not assessed: an empty cell, not 0
