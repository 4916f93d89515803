"""A registrar's retry right after a registry recovered must not fail on the circuit breaker the outage opened:
the retry probes the source at once (one half-open trial call). Over real HTTP against the simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connectors.registry import connectors_for
from modules.means_test import collection
from modules.means_test.evidence import missing_sources
from modules.means_test.models import DataPull
from modules.registration import status as machine
from modules.registration.models import ApplicationStatus
from tests.conftest import sign_in
from tests.means_test.conftest import copy_family, register, set_faults
from webapp.extensions import db

S = ApplicationStatus


@pytest.fixture
def tax_breaker(app, sources_at, monkeypatch):
    """The tax connector's breaker opens on the first failure and would stay open for an hour."""
    sources = {**app.config["SOURCES"], "tax": {"breaker": {"failure_threshold": 1, "reset_after": 3600}}}
    monkeypatch.setitem(app.config, "SOURCES", sources)
    app.extensions.pop("srsp_connectors", None)
    return lambda: connectors_for(app)["tax"].client.policy.breaker


def _after_an_outage(app, sources_at, simulator_store, registrar, breaker):
    set_faults(sources_at, {"tax": {"mode": "down"}})
    try:
        application = register(copy_family(simulator_store), registrar)
    finally:
        set_faults(sources_at, {})  # the registry is back
    assert application.status is S.manual_verification and missing_sources(application) == ["tax"]
    assert breaker().state == "open"
    return application


def test_a_staff_retry_right_after_the_registry_recovers_completes_the_collection(
        app, client, sources_at, simulator_store, registrar, tax_breaker):
    application = _after_an_outage(app, sources_at, simulator_store, registrar, tax_breaker)
    sign_in(client, registrar)
    response = client.post(f"/applications/{application.id}/collect",
                           data={"csrf_token": client.csrf, "source": "tax"})
    assert response.status_code == 302
    db.session.refresh(application)
    assert application.status is S.decided, [e.note for e in application.events]
    assert tax_breaker().state == "closed"
    latest = db.session.scalars(select(DataPull).where(DataPull.application_id == application.id,
                                                       DataPull.source == "tax")
                                .order_by(DataPull.id.desc())).first()
    assert latest.status.answered


def test_a_retry_of_every_missing_source_probes_too(app, client, sources_at, simulator_store, registrar,
                                                    tax_breaker):
    application = _after_an_outage(app, sources_at, simulator_store, registrar, tax_breaker)
    sign_in(client, registrar)
    assert client.post(f"/applications/{application.id}/collect",
                       data={"csrf_token": client.csrf}).status_code == 302
    db.session.refresh(application)
    assert application.status is S.decided


def test_a_collection_nobody_asked_for_still_respects_the_open_breaker(app, sources_at, simulator_store, registrar,
                                                                       tax_breaker):
    application = _after_an_outage(app, sources_at, simulator_store, registrar, tax_breaker)
    machine.transition(application, S.collecting)
    collection.collect(application)  # as the sweeper's resumed job runs it: no person asked, no probe
    assert application.status is S.manual_verification
    assert tax_breaker().state == "open"
    db.session.rollback()
