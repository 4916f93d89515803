"""A submission asks each registry once for the whole household, and still completes when a registry has no
batch lookup (asked once per member, each member's evidence naming its own request)."""

from __future__ import annotations

from sqlalchemy import select

from connectors.catalog import SOURCES
from modules.means_test.models import DataPull
from modules.registration.models import ApplicationStatus
from tests.means_test.conftest import copy_family, register, requests_during, set_faults
from webapp.extensions import db


def test_a_submission_asks_every_registry_once_for_the_household(app, sources_at, simulator_store, registrar):
    set_faults(sources_at, {})
    family = copy_family(simulator_store, min_size=4)
    asked, application = requests_during(sources_at, lambda: register(family, registrar))
    assert application.status is ApplicationStatus.decided, [e.note for e in application.events]
    assert asked == {source.name: 1 for source in SOURCES}
    pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application.id)).all()
    assert len(pulls) == len(SOURCES) * len(family)
    by_source = {}
    for pull in pulls:
        by_source.setdefault(pull.source, set()).add(pull.request_id)
    assert all(len(requests) == 1 for requests in by_source.values()), "one request answered the household"


def test_a_registry_without_the_batch_lookup_is_asked_per_member(app, sources_at, simulator_store, registrar,
                                                                 monkeypatch):
    set_faults(sources_at, {})
    monkeypatch.setitem(app.config, "SOURCES", {**app.config["SOURCES"], "employment": {"batch": False}})
    app.extensions.pop("srsp_connectors", None)
    family = copy_family(simulator_store, min_size=4)
    asked, application = requests_during(sources_at, lambda: register(family, registrar))
    assert application.status is ApplicationStatus.decided, [e.note for e in application.events]
    assert asked == {source.name: len(family) if source.name == "employment" else 1 for source in SOURCES}
    pulls = db.session.scalars(select(DataPull).where(DataPull.application_id == application.id,
                                                      DataPull.source == "employment")).all()
    assert {pull.person_id for pull in pulls} == {person.id for person in family}
    assert all(pull.status.answered for pull in pulls)
    assert len({pull.request_id for pull in pulls}) == len(family)
