"""The case pages: the worker's queue, opening a case, assignment with caseloads, status changes and resolution,
area scoping, and confidential notes kept from those who only read cases."""

from __future__ import annotations

import re
from datetime import date

import pytest

from modules.grievances import operations
from modules.grievances.models import Case, CaseEventKind, CaseStatus
from modules.grievances.schemas import CaseArgs
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db


def _open(actor, category="payment_not_received", kind="grievance", **fields) -> Case:
    data = CaseArgs().load({"kind": kind, "category": category, "channel": "office",
                            "description": fields.pop("description", "Pul kelmadi"), **fields})
    case = operations.open_case(data, actor)
    db.session.flush()
    return case


def _ready(case: Case) -> int:
    """Keep the set-up (a refused request rolls back to here) and give the case's id to read it again later."""
    factories.commit()
    return case.id


def _reread(case_id: int) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


def _worker(name: str, area: str = "UZ-TK", role: str = "social_worker"):
    user = factories.make_user(role, areas=[area])
    user.full_name = name
    db.session.flush()
    return user


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": client.csrf, **data})


@pytest.fixture
def worker():
    return _worker("Rustam Ijtimoiy")


@pytest.fixture
def worker_client(client, worker):
    return sign_in(client, worker)


def test_my_queue_shows_the_most_urgent_case_first(worker, worker_client):
    later = _open(worker, category="decision_appeal", kind="appeal", description="Rad etilgan ariza")
    sooner = _open(worker, description="To'lov kelmadi")
    for case in (later, sooner):
        operations.assign(case, worker, worker)
    db.session.flush()
    html = _page(worker_client, "/cases")
    assert sooner.tracking_number in html and later.tracking_number in html
    assert html.index(sooner.tracking_number) < html.index(later.tracking_number)
    assert "Payment not received" in html  # the category in words, not its code
    assert "payment_not_received" not in html.split('id="cases"')[1]
    assert re.search(r'class="badge sla-(on_track|at_risk|breached)"', html)


def test_the_unassigned_queue_lists_the_areas_new_cases(worker, worker_client):
    case = _open(worker)
    html = _page(worker_client, "/cases?queue=area")
    assert case.tracking_number in html
    assert "Not assigned" in html


def test_a_case_is_opened_through_the_page(worker, worker_client):
    page = _page(worker_client, "/cases/new")
    assert "<optgroup" in page and "Payment not received" in page
    response = _post(worker_client, "/cases/new", kind="grievance", category="payment_not_received",
                     channel="phone", description="Noyabr oyi uchun to'lov kelmadi",
                     complainant_name="Dilnoza Karimova", phone="+998901234567")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    case_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    case = db.session.get(Case, case_id)
    assert case.description == "Noyabr oyi uchun to'lov kelmadi"
    html = _page(worker_client, f"/cases/{case_id}")
    assert f"Case {case.tracking_number} opened" in html
    assert "Dilnoza Karimova" in html


def test_a_bad_case_form_is_shown_again_with_its_errors_and_nothing_saved(worker, worker_client):
    factories.commit()
    before = db.session.query(Case).count()
    response = _post(worker_client, "/cases/new", kind="grievance", category="no_such_category", channel="office",
                     description="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose a category from the list." in html
    assert db.session.query(Case).count() == before


def test_assignment_offers_colleagues_with_their_caseload(worker, worker_client):
    colleague = _worker("Malika Mahallaeva")
    for _ in range(2):
        operations.assign(_open(worker), colleague, worker)
    case = _open(worker)
    _worker("Olim Samarqandiy", area="UZ-SA")  # works elsewhere: not offered
    html = _page(worker_client, f"/cases/{case.id}")
    assert "Malika Mahallaeva (2 open)" in html
    assert "Rustam Ijtimoiy (0 open)" in html
    assert "Olim Samarqandiy" not in html
    response = _post(worker_client, f"/cases/{case.id}/assign", assignee=str(colleague.id))
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.assignee_id == colleague.id
    assert "Case assigned to Malika Mahallaeva." in _page(worker_client, f"/cases/{case.id}")


def test_assigning_to_someone_outside_the_area_is_refused(worker, worker_client):
    stranger = _worker("Olim Samarqandiy", area="UZ-SA")
    case_id = _ready(_open(worker))
    _post(worker_client, f"/cases/{case_id}/assign", assignee=str(stranger.id))
    assert _reread(case_id).assignee_id is None
    assert "Choose a colleague who works in the case" in _page(worker_client, f"/cases/{case_id}")


def test_a_case_moves_on_and_is_resolved_through_the_page(worker, worker_client):
    case = _open(worker)
    operations.assign(case, worker, worker)
    db.session.flush()
    html = _page(worker_client, f"/cases/{case.id}")
    assert '<option value="in_progress">In progress</option>' in html
    assert '<option value="closed">' not in html  # not a next step from here
    assert _post(worker_client, f"/cases/{case.id}/status", to_status="in_progress",
                 note="Bankka so'rov yuborildi").status_code == 302
    db.session.refresh(case)
    assert case.status is CaseStatus.in_progress
    case_id = _ready(case)
    _post(worker_client, f"/cases/{case_id}/status", to_status="closed")  # not allowed from in progress
    case = _reread(case_id)
    assert case.status is CaseStatus.in_progress
    assert _post(worker_client, f"/cases/{case.id}/resolve", decision="upheld",
                 resolution="To'lov qayta yuborildi").status_code == 302
    db.session.refresh(case)
    assert case.status is CaseStatus.resolved
    assert case.resolution == "To'lov qayta yuborildi"
    html = _page(worker_client, f"/cases/{case.id}")
    assert "Upheld" in html and 'id="reopen"' in html
    _post(worker_client, f"/cases/{case.id}/status", to_status="in_progress", note="Fuqaro yana murojaat qildi")
    db.session.refresh(case)
    assert case.status is CaseStatus.in_progress


def test_resolving_without_a_summary_changes_nothing(worker, worker_client):
    case_id = _ready(_open(worker))
    _post(worker_client, f"/cases/{case_id}/resolve", decision="upheld", resolution="")
    assert _reread(case_id).status is CaseStatus.new
    assert "Write what was done and decided." in _page(worker_client, f"/cases/{case_id}")


def test_a_case_outside_the_users_areas_is_not_found(app, worker):
    case = _open(worker)
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    elsewhere = sign_in(browser, _worker("Olim Samarqandiy", area="UZ-SA"))
    assert elsewhere.get(f"/cases/{case.id}").status_code == 404
    assert _post(elsewhere, f"/cases/{case.id}/event", kind="note", text="x").status_code == 404
    assert case.tracking_number not in _page(elsewhere, "/cases?queue=area")


def test_notes_are_added_and_confidential_ones_hidden_from_a_registrar(app, worker, worker_client):
    case = _open(worker)
    assert _post(worker_client, f"/cases/{case.id}/event", kind="visit",
                 text="Uyga tashrif: oila uyda").status_code == 302
    _post(worker_client, f"/cases/{case.id}/event", kind="confidential_note", text="Oilada zo'ravonlik belgilari")
    kinds = [event.kind for event in db.session.get(Case, case.id).events]
    assert CaseEventKind.visit in kinds and CaseEventKind.confidential_note in kinds
    assert "Oilada zo&#39;ravonlik belgilari" in _page(worker_client, f"/cases/{case.id}")
    registrar = factories.make_user("registrar", areas=["UZ-TK"])
    other_browser = app.test_client()
    other_browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    reader = sign_in(other_browser, registrar)
    html = _page(reader, f"/cases/{case.id}")
    assert "Uyga tashrif: oila uyda" in html
    assert "zo&#39;ravonlik" not in html and "Confidential note" not in html
    assert 'id="actions"' not in html


def test_the_supervisor_sees_open_cases_by_status_overdue_and_per_worker(app, worker, worker_client):
    late = _open(worker)
    operations.assign(late, worker, worker)
    late.due_date = date(2020, 1, 6)
    _open(worker)  # new, not assigned
    db.session.flush()
    assert 'id="supervision"' not in _page(worker_client, "/cases?queue=supervisor")  # a worker gets their own queue
    supervisor = factories.make_user("social_worker", national=True)
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    html = _page(sign_in(browser, supervisor), "/cases?queue=supervisor")
    section = html.split('id="supervision"')[1].split("</section>")[0]
    workers = section.split('id="workers"')[1]
    row = workers.split("Rustam Ijtimoiy")[1].split("</tr>")[0]
    assert re.findall(r">(\d+)<", row.replace('<span class="overdue">', ">").replace("</span>", "<")) == ["1", "1"]
    assert "Not assigned" in workers
    assert re.search(r"Overdue</span> <strong>(\d+)</strong>", section)
    assert late.tracking_number in html


def test_a_case_about_an_application_is_opened_with_its_reference(worker, worker_client):
    application = factories.register_family(factories.make_user("registrar", areas=["UZ-TK"]))
    factories.commit()
    response = _post(worker_client, "/cases/new", kind="grievance", category="decision_disputed", channel="office",
                     description="Rad etilganiga rozi emas", application_id=application.reference.lower())
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    case = db.session.get(Case, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert case.application_id == application.id
    html = _page(worker_client, f"/cases/{case.id}")
    assert f'href="/applications/{application.id}"' in html
    assert application.applicant.full_name in html
    refused = _post(worker_client, "/cases/new", kind="grievance", category="decision_disputed", channel="office",
                    description="Rad etilganiga rozi emas", application_id="ariza 12")
    assert refused.status_code == 422
    assert "Give the application&#39;s reference as it appears on its page" in refused.get_data(as_text=True)


def test_a_grievance_about_a_payment_shows_the_line_its_month_amount_and_status(worker, client):
    payroll, lines = factories.sent_payroll(children=1)
    case = _open(worker, payroll_line_id=lines[0].id, phone="+998901112233", description="Pul kelmadi")
    case_id = _ready(case)
    page = _page(sign_in(client, worker), f"/cases/{case_id}")
    shown = re.search(r'<dd id="payment">(.*?)</dd>', page, re.S).group(1)
    assert factories.PAYROLL_PERIOD in shown and "250" in shown and "Included" in shown
    assert "/payrolls/" not in shown  # a social worker does not read payrolls
