"""Area scoping and roles: out-of-scope applications look missing (404), roles without the permission get 403."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from modules.registration.models import Application
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import S, bearer, commit, counts, references_in, register
from webapp.extensions import db
from webapp.models import AuditEvent


@pytest.fixture
def apps(tk_registrar, sa_registrar) -> dict[str, Application]:
    """One application in each of two Tashkent districts and one in Samarkand."""
    made = {
        "tk01": register(factories.application_payload(factories.make_family("UZ-TK-01")), tk_registrar),
        "tk02": register(factories.application_payload(factories.make_family("UZ-TK-02")), tk_registrar),
        "sa": register(factories.application_payload(factories.make_family("UZ-SA")), sa_registrar),
    }
    commit()
    return made


def main_part(response) -> str:
    text = response.get_data(as_text=True)
    return text[text.index("<main>"):text.index("</main>")]


def listed(client) -> set[str]:
    response = client.get("/applications")
    assert response.status_code == 200
    return references_in(response.get_data(as_text=True))


def api_listed(client, headers) -> set[str]:
    response = client.get("/api/v1/applications?per_page=200", headers=headers)
    assert response.status_code == 200
    return {item["reference"] for item in response.get_json()["items"]}


def test_registrar_of_another_region_gets_404_on_the_detail_page(client, sa_registrar, apps):
    sign_in(client, sa_registrar)
    before = counts()
    assert client.get(f"/applications/{apps['tk01'].id}").status_code == 404
    assert counts() == before  # not even a 'viewed' audit event
    assert client.get(f"/applications/{apps['sa'].id}").status_code == 200


def test_out_of_scope_looks_like_missing(client, sa_registrar, apps):
    sign_in(client, sa_registrar)
    missing = db.session.scalar(select(db.func.max(Application.id))) + 1000
    out_of_scope = client.get(f"/applications/{apps['tk01'].id}")
    not_there = client.get(f"/applications/{missing}")
    assert out_of_scope.status_code == not_there.status_code == 404
    assert main_part(out_of_scope) == main_part(not_there)


def test_registrar_of_another_region_gets_404_from_the_api(client, sa_registrar, apps):
    headers = bearer(sa_registrar)
    response = client.get(f"/api/v1/applications/{apps['tk01'].id}", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"
    assert client.get(f"/api/v1/applications/{apps['sa'].id}", headers=headers).status_code == 200


def test_registrar_of_another_region_does_not_see_it_in_the_lists(client, sa_registrar, apps):
    sign_in(client, sa_registrar)
    assert listed(client) == {apps["sa"].reference}
    response = client.get("/api/v1/applications", headers=bearer(sa_registrar))
    body = response.get_json()
    assert [item["reference"] for item in body["items"]] == [apps["sa"].reference]
    assert body["total"] == 1


def test_registrar_of_another_region_cannot_change_it(client, sa_registrar, apps):
    sign_in(client, sa_registrar)
    before = counts()
    for action in ("withdraw", "submit"):
        response = client.post(f"/applications/{apps['tk01'].id}/{action}",
                               data={"csrf_token": client.csrf, "reason": "not mine"})
        assert response.status_code == 404
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Application, apps["tk01"].id).status is S.submitted


def test_registrar_sees_the_applications_of_the_region(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    assert listed(client) == {apps["tk01"].reference, apps["tk02"].reference}


def test_finance_maker_is_forbidden(app, client, apps):
    maker = factories.make_user("finance_maker", national=True)
    headers = bearer(maker)
    sign_in(client, maker)
    assert client.get("/applications").status_code == 403
    assert client.get(f"/applications/{apps['tk01'].id}").status_code == 403
    assert client.post("/applications/export", data={"csrf_token": client.csrf}).status_code == 403
    machine = app.test_client()  # no session cookie: the bearer token alone
    assert machine.get("/api/v1/applications", headers=headers).status_code == 403
    assert machine.get(f"/api/v1/applications/{apps['tk01'].id}", headers=headers).status_code == 403


def test_mahalla_worker_sees_only_the_district(client, apps):
    worker = factories.make_user("mahalla_worker", areas=["UZ-TK-02"])
    headers = bearer(worker)
    sign_in(client, worker)
    assert listed(client) == {apps["tk02"].reference}
    assert api_listed(client, headers) == {apps["tk02"].reference}
    assert client.get(f"/applications/{apps['tk02'].id}").status_code == 200
    assert client.get(f"/applications/{apps['tk01'].id}").status_code == 404
    assert client.get(f"/api/v1/applications/{apps['tk01'].id}", headers=headers).status_code == 404


def test_national_auditor_sees_everything(client, apps):
    auditor = factories.make_user("auditor", national=True)
    sign_in(client, auditor)
    assert listed(client) == {app.reference for app in apps.values()}
    assert client.get(f"/applications/{apps['sa'].id}").status_code == 200


def test_user_without_areas_sees_nothing(client, apps):
    nobody = factories.make_user("registrar", areas=["UZ-TK"])
    nobody.scopes = []  # every area taken away (an account cannot be created without one)
    db.session.flush()
    sign_in(client, nobody)
    assert listed(client) == set()
    assert client.get(f"/applications/{apps['tk01'].id}").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, apps):
    for path in ("/applications", f"/applications/{apps['tk01'].id}", "/applications/new"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_viewing_an_application_is_audited(client, tk_registrar, apps):
    sign_in(client, tk_registrar)
    client.get(f"/applications/{apps['tk01'].id}")
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.object_id, event.actor_id, event.details) == (
        "household.viewed", str(apps["tk01"].id), tk_registrar.id, {"household_id": apps["tk01"].household_id})
