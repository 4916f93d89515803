"""Submitting an application pulls all 13 sources for every member from the simulator, over real HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connectors.catalog import SOURCES
from modules.means_test.evidence import missing_sources
from modules.means_test.models import DataPull
from modules.registration.models import ApplicationStatus
from tests.conftest import sign_in
from tests.means_test.conftest import copy_family, register, set_faults
from webapp.extensions import db

S = ApplicationStatus


def test_submission_collects_every_source_for_every_member(app, sources_at, simulator_store, registrar):
    set_faults(sources_at, {})
    family = copy_family(simulator_store)
    application = register(family, registrar)
    # Collection complete → assessed and decided in the same job (modules/means_test/assessment.py).
    assert application.status is S.decided, [e.note for e in application.events]
    pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application.id)).all()
    assert {(p.source, p.person_id) for p in pulls} == {(s.name, m.id) for s in SOURCES for m in family}
    assert all(p.status.answered and p.request_id and p.latency_ms >= 0 for p in pulls)
    identity = next(p for p in pulls if p.source == "population" and p.person_id == family[0].id)
    record = next(r for r in identity.payload if r["kind"] == "identity")
    assert record["pin"] == family[0].pin and record["birth_date"] == family[0].birth_date.isoformat()
    assert [e.to_status for e in application.events][-5:] == ["submitted", "collecting", "collected", "assessed",
                                                              "decided"]


def test_a_failing_source_sends_the_application_to_manual_verification_and_a_retry_completes_it(
        app, client, sources_at, simulator_store, registrar):
    set_faults(sources_at, {"tax": {"mode": "down"}})
    try:
        family = copy_family(simulator_store)
        application = register(family, registrar)
        assert application.status is S.manual_verification
        assert missing_sources(application) == ["tax"]
        tax_pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application.id,
                                                              DataPull.source == "tax")).all()
        rounds = app.config["COLLECTION_ROUNDS"]
        assert len(tax_pulls) == rounds * len(family) and all(p.status.value == "error" for p in tax_pulls)
        assert "tax" in application.events[-1].note
        from modules.registration import status as machine

        with pytest.raises(machine.IllegalTransition):
            machine.transition(application, S.assessed, registrar)
    finally:
        set_faults(sources_at, {})
    sign_in(client, registrar)
    page = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "State Tax Committee" in page and "Retry every missing source" in page
    response = client.post(f"/applications/{application.id}/collect", data={"csrf_token": client.csrf})
    assert response.status_code == 302
    db.session.refresh(application)
    assert application.status is S.decided
    before = db.session.scalar(select(func.count()).select_from(DataPull))
    assert client.post(f"/applications/{application.id}/collect", data={"csrf_token": client.csrf,
                                                                        "source": "tax"}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(DataPull)) == before, \
        "a decided application's evidence is final: no refresh after the decision"


def test_malformed_answers_and_timeouts_are_recorded_as_such(app, sources_at, simulator_store, registrar,
                                                             monkeypatch):
    monkeypatch.setitem(app.config, "SOURCES", {"*": {"timeout": 0.3, "retry": {"attempts": 2, "base_delay": 0.01,
                                                                               "max_delay": 0.02}}})
    app.extensions.pop("srsp_connectors", None)
    set_faults(sources_at, {"cadastre": {"mode": "malformed", "error_rate": 1},
                         "vehicles": {"mode": "timeout", "error_rate": 1, "timeout_s": 2}})
    try:
        application = register(copy_family(simulator_store), registrar)
    finally:
        set_faults(sources_at, {})
    assert application.status is S.manual_verification
    statuses = {p.source: p.status.value for p in db.session.scalars(
        select(DataPull).where(DataPull.application_id == application.id))}
    assert statuses["cadastre"] == "error" and statuses["vehicles"] == "timeout" and statuses["tax"] == "ok"


def test_the_job_is_idempotent(app, sources_at, simulator_store, registrar):
    from modules.means_test.tasks import collect

    set_faults(sources_at, {})
    application = register(copy_family(simulator_store), registrar)
    before = db.session.scalar(select(func.count()).select_from(DataPull))
    assert collect("job", application.id) == {"skipped": "decided"}
    assert db.session.scalar(select(func.count()).select_from(DataPull)) == before


def test_data_pull_rows_cannot_be_edited(app, sources_at, simulator_store, registrar):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    set_faults(sources_at, {})
    application = register(copy_family(simulator_store), registrar)
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("UPDATE data_pull SET status = 'ok' WHERE application_id = :id"),
                           {"id": application.id})


def test_registries_down_then_back_up(app, client, simulator_store, registrar, monkeypatch):
    """The simulator process stops: the application waits in manual verification, never assessed; once it is
    back on the same address, a registrar's retry completes the collection."""
    from werkzeug.serving import make_server

    from connectors.simulator.app import create_simulator_app

    _engine, url = simulator_store
    first = make_server("127.0.0.1", 0, create_simulator_app(database_url=url), threaded=True)
    port = first.server_port
    first.server_close()  # nothing listens there now: every source is unreachable
    monkeypatch.setitem(app.config, "SOURCES_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setitem(app.config, "SOURCES", {"*": {"timeout": 1, "retry": {"attempts": 2, "base_delay": 0.01,
                                                                             "max_delay": 0.02},
                                                      "breaker": {"failure_threshold": 100}}})
    monkeypatch.setitem(app.config, "COLLECTION_BACKOFF", 0.01)
    monkeypatch.setitem(app.config, "COLLECT_ON_SUBMIT", True)
    app.extensions.pop("srsp_connectors", None)
    try:
        application = register(copy_family(simulator_store), registrar)
        assert application.status is S.manual_verification
        assert len(missing_sources(application)) == len(SOURCES)

        import threading

        restarted = make_server("127.0.0.1", port, create_simulator_app(database_url=url), threaded=True)
        threading.Thread(target=restarted.serve_forever, daemon=True).start()
        try:
            sign_in(client, registrar)
            client.post(f"/applications/{application.id}/collect", data={"csrf_token": client.csrf})
            db.session.refresh(application)
            assert application.status is S.decided
        finally:
            restarted.shutdown()
            restarted.server_close()
    finally:
        app.extensions.pop("srsp_connectors", None)
