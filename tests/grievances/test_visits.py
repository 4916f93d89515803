"""Household visits recorded from a phone: saved through the page with a photo, dated today or earlier, only for
households in the worker's areas, shown in the case's timeline and on the household profile, audited; the photo or
document is checked by its content and opened by staff of the area only."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from modules.grievances import operations
from modules.grievances.models import CaseEventKind, HouseholdVisit
from modules.grievances.schemas import CaseArgs
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.timeutil import local_today

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def worker():
    user = factories.make_user("social_worker", areas=["UZ-TK"])
    user.full_name = "Dilnoza Tashrifchi"
    db.session.flush()
    return user


@pytest.fixture
def worker_client(client, worker):
    return sign_in(client, worker)


def _family(region: str = "UZ-TK"):
    return factories.make_family(region, children=1)["household"]


def _form(client, **fields):
    data = {"csrf_token": client.csrf, "visited_on": local_today().isoformat(), "met": "Karimova Nodira, onasi",
            "findings": "Oila uyda yashaydi; uy ta'mirtalab.", "fact-0": "Uyda 4 kishi yashaydi",
            "confirmed-0": "yes", "fact-1": "Otasi ishlamaydi", "confirmed-1": "no",
            "note-1": "Bozorda ishlaydi", **fields}
    return data


def _post(client, household_id: int, query: str = "", **fields):
    return client.post(f"/households/{household_id}/visits/new{query}", data=_form(client, **fields),
                       content_type="multipart/form-data")


def _visits(household_id: int) -> list[HouseholdVisit]:
    db.session.expire_all()
    return list(db.session.scalars(select(HouseholdVisit).where(HouseholdVisit.household_id == household_id)))


def _actions(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_form_is_for_a_phone_with_the_camera_and_todays_date(worker_client):
    household = _family()
    factories.commit()
    response = worker_client.get(f"/households/{household.id}/visits/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'accept="image/*" capture="environment"' in html
    assert f'value="{local_today().isoformat()}"' in html and 'enctype="multipart/form-data"' in html


def test_a_visit_is_recorded_through_the_page_with_a_photo_and_audited(worker, worker_client):
    household = _family()
    factories.commit()
    response = _post(worker_client, household.id, photo=(io.BytesIO(JPEG), "IMG_0001.heic.jpg"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert response.headers["Location"].endswith(f"/households/{household.id}")
    [visit] = _visits(household.id)
    assert visit.visitor_id == worker.id and visit.met == "Karimova Nodira, onasi" and visit.case_id is None
    assert visit.facts == [{"fact": "Uyda 4 kishi yashaydi", "confirmed": True, "note": ""},
                           {"fact": "Otasi ishlamaydi", "confirmed": False, "note": "Bozorda ishlaydi"}]
    assert visit.attachment_mime == "image/jpeg" and visit.attachment_content == JPEG
    [event] = [e for e in _actions("household.visit_recorded") if e.details["visit_id"] == visit.id]
    assert (event.object_type, event.object_id, event.actor_id) == ("household", str(household.id), worker.id)
    assert event.details["contradicted"] == 1
    attachment = worker_client.get(f"/households/{household.id}/visits/{visit.id}/attachment")
    assert attachment.status_code == 200 and attachment.data == JPEG
    assert attachment.headers["Content-Type"] == "image/jpeg"
    assert attachment.headers["X-Content-Type-Options"] == "nosniff"
    assert any(e.details.get("visit_id") == visit.id for e in _actions("household.visit_attachment_viewed"))


def test_a_visit_dated_in_the_future_is_refused_and_nothing_saved(worker_client):
    household = _family()
    factories.commit()
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    response = _post(worker_client, household.id, visited_on=tomorrow)
    assert response.status_code == 422
    assert "A visit cannot be dated in the future." in response.get_data(as_text=True)
    assert _visits(household.id) == []


def test_a_file_that_is_not_a_photo_or_pdf_is_refused_whatever_its_name(worker_client):
    household = _family()
    factories.commit()
    response = _post(worker_client, household.id, document=(io.BytesIO(b"MZ\x90\x00 not an image"), "photo.jpg"))
    assert response.status_code == 422
    assert "Attach a photo (JPEG or PNG) or a PDF document." in response.get_data(as_text=True)
    assert _visits(household.id) == []
    response = _post(worker_client, household.id, document=(io.BytesIO(b""), "empty.png"))
    assert response.status_code == 422 and _visits(household.id) == []


def test_a_household_outside_the_workers_areas_is_not_found(app, worker_client):
    household = _family("UZ-SA")
    here = _family()
    factories.commit()
    assert worker_client.get(f"/households/{household.id}/visits/new").status_code == 404
    assert _post(worker_client, household.id).status_code == 404
    assert _visits(household.id) == []
    # a visit of a household in the area, with its photo: staff of another region do not get it
    assert _post(worker_client, here.id, photo=(io.BytesIO(PNG), "a.png")).status_code == 302
    [visit] = _visits(here.id)
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    elsewhere = sign_in(browser, factories.make_user("social_worker", areas=["UZ-SA"]))
    factories.commit()
    assert elsewhere.get(f"/households/{here.id}/visits/{visit.id}/attachment").status_code == 404
    assert elsewhere.get(f"/households/{here.id}/visits/new").status_code == 404


def test_a_visit_linked_to_a_case_goes_on_its_timeline(worker, worker_client):
    household = _family()
    case = operations.open_case(CaseArgs().load({"kind": "update", "category": _update_category(),
                                                 "channel": "mahalla", "description": "Oila tarkibi o'zgardi",
                                                 "household_id": household.id}), worker)
    factories.commit()
    response = _post(worker_client, household.id, query=f"?case={case.id}",
                     photo=(io.BytesIO(PNG), "uy.png"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    [visit] = _visits(household.id)
    assert visit.case_id == case.id
    db.session.expire_all()
    kinds = [event.kind for event in operations.get_case(worker, case.id).events]
    assert CaseEventKind.visit in kinds
    html = worker_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Karimova Nodira, onasi" in html and "✗ Otasi ishlamaydi — Bozorda ishlaydi" in html
    assert f"/households/{household.id}/visits/new?case={case.id}" in html
    assert f"/households/{household.id}/visits/{visit.id}/attachment" in html


def test_a_case_of_another_household_is_not_found(worker, worker_client):
    household, other = _family(), _family()
    case = operations.open_case(CaseArgs().load({"kind": "update", "category": _update_category(),
                                                 "channel": "mahalla", "description": "x",
                                                 "household_id": other.id}), worker)
    factories.commit()
    assert _post(worker_client, household.id, query=f"?case={case.id}").status_code == 404
    assert _visits(household.id) == []


def test_the_household_profile_lists_its_visits_and_links_the_form(worker_client):
    household = _family()
    factories.commit()
    assert _post(worker_client, household.id, photo=(io.BytesIO(JPEG), "a.jpg")).status_code == 302
    [visit] = _visits(household.id)
    html = worker_client.get(f"/households/{household.id}").get_data(as_text=True)
    assert f'data-visit="{visit.id}"' in html and "Karimova Nodira, onasi" in html
    assert f"/households/{household.id}/visits/new" in html
    assert f"/households/{household.id}/visits/{visit.id}/attachment" in html


def _update_category() -> str:
    from modules.grievances.categories import categories

    return next(c.code for c in categories("update") if not c.sensitive)


def test_too_long_or_blank_texts_are_refused_with_the_field_named(worker_client):
    household = _family()
    factories.commit()
    response = _post(worker_client, household.id, met="x" * 201, findings="   ")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Keep it to 200 characters or fewer." in html and "This field is required." in html
    assert _visits(household.id) == []
