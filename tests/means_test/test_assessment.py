"""A collected application is assessed and decided in the same job, explained on its page and notified by SMS."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from modules.means_test import assessment as assessment_module
from modules.means_test.models import Assessment, DataPull
from modules.registration.models import ApplicationStatus
from rules.engines import evaluate
from tests.conftest import sign_in
from tests.means_test.conftest import copy_family, register, set_faults
from webapp.extensions import db
from webapp.models import AuditEvent, Notification

S = ApplicationStatus


def _assessments(application_id: int) -> list[Assessment]:
    return db.session.scalars(select(Assessment).where(Assessment.application_id == application_id)).all()


def test_collection_ends_in_a_stored_explained_decision_and_one_sms(app, client, sources_at, simulator_store,
                                                                     registrar):
    set_faults(sources_at, {})
    application = register(copy_family(simulator_store), registrar)
    assert application.status is S.decided
    [stored] = _assessments(application.id)
    # The stored decision is what the engine gives for the stored facts: the evidence suffices to redo it.
    again = evaluate(stored.facts, "uz", engine="pandas")
    assert (stored.decision.value, float(stored.per_capita_income)) == (again["decision"], again["per_capita_income"])
    assert stored.programmes == again["programmes"] and stored.reasons == again["reasons"]
    assert f"uz@{stored.pack_version}" == again["pack_version"] and stored.engine == "durable_rules"
    assert [m["pin"] for m in stored.facts["members"]] == [m.person.pin for m in application.members]
    assert {rule["rule"] for rule in stored.trace["rules"]} >= {"income_above_threshold", "able_bodied_without_income"}

    [sms] = db.session.scalars(select(Notification).where(Notification.application_id == application.id)).all()
    assert sms.to == application.phone and sms.dedupe_key == f"application:{application.id}:decision"
    from modules.means_test.notices import decision_text

    assert application.reference in sms.body and sms.language == application.language == "uz"
    assert sms.body == decision_text(application, stored, "uz")
    assert ("not eligible" in decision_text(application, stored, "en")) == (stored.decision.value == "ineligible")

    sign_in(client, registrar)
    page = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "How the decision was reached" in page and "Income per person within the threshold" in page
    assert f"{stored.per_capita_income:,.0f}".replace(",", " ") in page


def test_the_decision_sms_is_in_the_applicants_language_and_never_sent_twice(app, sources_at, simulator_store,
                                                                             registrar):
    from webapp import signals

    set_faults(sources_at, {})
    family = copy_family(simulator_store)
    application = register(family, registrar)
    [stored] = _assessments(application.id)
    application.language = "ru"
    signals.application_decided.send(application, assessment=stored, actor=None)  # e.g. a job run twice
    db.session.commit()
    notices = db.session.scalars(select(Notification).where(Notification.application_id == application.id)).all()
    assert len(notices) == 1, "one decision, one SMS"
    from modules.means_test.notices import decision_text

    russian = decision_text(application, stored, "ru")
    assert "Заявление" in russian or "Заявка" in russian, russian


def test_a_failing_assessment_keeps_the_evidence_and_leaves_the_application_collected(
        app, sources_at, simulator_store, registrar, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("rule pack unavailable")

    monkeypatch.setattr(assessment_module, "evaluate", broken)
    set_faults(sources_at, {})
    application = register(copy_family(simulator_store), registrar)
    assert application.status is S.collected
    assert _assessments(application.id) == []
    assert db.session.scalar(select(func.count()).select_from(DataPull).where(
        DataPull.application_id == application.id)) > 0
    failed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "assessment.failed"))
    assert failed is not None and "rule pack unavailable" in str(failed.details)


def test_assessments_cannot_be_edited(app, sources_at, simulator_store, registrar):
    set_faults(sources_at, {})
    application = register(copy_family(simulator_store), registrar)
    [stored] = _assessments(application.id)
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text("UPDATE assessment SET decision = 'eligible' WHERE id = :id"), {"id": stored.id})
