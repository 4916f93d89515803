"""Manual verification: a staff member enters a missing source's records from a document, a second staff member
confirms them, and the application is assessed as if the source had answered. Against the simulator over HTTP,
with the tax registry down."""

from __future__ import annotations

import html
import io

import pytest
from sqlalchemy import select

from modules.means_test import manual
from modules.means_test.evidence import missing_sources
from modules.means_test.facts import application_day
from modules.means_test.models import Assessment, DataPull, ManualEntry, ManualEntryStatus
from modules.registration.models import ApplicationStatus
from rules.features import window_months
from tests import factories
from tests.conftest import sign_in
from tests.means_test.conftest import ALL_REGIONS, copy_family, register, set_faults
from webapp.extensions import db
from webapp.models import AuditEvent

S = ApplicationStatus
PDF = b"%PDF-1.4\n% a scanned certificate\n"


@pytest.fixture
def waiting(app, sources_at, simulator_store, registrar):
    """An application in manual verification because the tax registry did not answer."""
    set_faults(sources_at, {"tax": {"mode": "down"}})
    try:
        application = register(copy_family(simulator_store), registrar)
    finally:
        set_faults(sources_at, {})
    assert application.status is S.manual_verification and missing_sources(application) == ["tax"]
    return application


@pytest.fixture
def confirmer(app):
    return factories.make_user("social_worker", areas=ALL_REGIONS)


def _months(application) -> list[str]:
    return window_months(application_day(application), 3)


def _form(client, application, salary: int = 1_200_000, **changes) -> dict:
    head = application.members[0]
    data = {"csrf_token": client.csrf, "document_type": "certificate", "document_number": "ST-2026/118",
            "document_date": "2026-11-02", "attest": "yes"}
    for row, month in enumerate(_months(application)):
        prefix = manual.field_name(head.person_id, "income", row)
        data.update({prefix + "source": "salary", prefix + "month": month, prefix + "amount": str(salary)})
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def _audits(application, action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                       AuditEvent.object_id == str(application.id))).all()


def _entries(application) -> list[ManualEntry]:
    return db.session.scalars(select(ManualEntry).where(ManualEntry.application_id == application.id)).all()


def test_records_entered_by_hand_count_only_once_a_second_person_confirms_them(
        app, client, waiting, registrar, confirmer):
    application = waiting
    head = application.members[0]
    sign_in(client, registrar)
    page = html.unescape(client.get(f"/applications/{application.id}").get_data(as_text=True))
    assert f"/applications/{application.id}/manual/tax" in page and "Enter by hand" in page

    form = client.get(f"/applications/{application.id}/manual/tax")
    text = html.unescape(form.get_data(as_text=True))
    assert form.status_code == 200 and "Kind of income" in text and "Month" in text and "Amount" in text
    assert all(member.person.full_name in text for member in application.members)
    assert 'value="salary"' in text and 'value="pension"' not in text  # what the tax registry reports, no more
    assert "I have read these from the document" in text

    data = _form(client, application)
    data["document_file"] = (io.BytesIO(PDF), "certificate.pdf")
    response = client.post(f"/applications/{application.id}/manual/tax", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [entry] = _entries(application)
    db.session.refresh(application)
    assert entry.status is ManualEntryStatus.pending and entry.entered_by_id == registrar.id
    assert (entry.document_type, entry.document_number, entry.document_name) == ("certificate", "ST-2026/118",
                                                                                  "certificate.pdf")
    assert application.status is S.manual_verification and missing_sources(application) == ["tax"]
    assert not db.session.scalars(select(DataPull).where(DataPull.manual_entry_id.is_not(None))).all()
    assert len(_audits(application, "manual_record.entered")) == 1

    # The one who entered them cannot confirm them; the attempt is recorded.
    page = html.unescape(client.get(f"/applications/{application.id}").get_data(as_text=True))
    assert "Waiting for a second person's confirmation" in page
    assert f"/manual-entries/{entry.id}/confirm" not in page
    refused = client.post(f"/applications/{application.id}/manual-entries/{entry.id}/confirm",
                          data={"csrf_token": client.csrf}, follow_redirects=True)
    assert "another staff member must confirm them" in html.unescape(refused.get_data(as_text=True))
    db.session.refresh(entry)
    assert entry.status is ManualEntryStatus.pending
    assert len(_audits(application, "manual_record.self_confirmation_refused")) == 1

    client.post("/logout", data={"csrf_token": client.csrf})
    sign_in(client, confirmer)
    page = html.unescape(client.get(f"/applications/{application.id}").get_data(as_text=True))
    assert f"/manual-entries/{entry.id}/confirm" in page
    assert client.post(f"/applications/{application.id}/manual-entries/{entry.id}/confirm",
                       data={"csrf_token": client.csrf}).status_code == 302

    db.session.refresh(application)
    db.session.refresh(entry)
    assert entry.status is ManualEntryStatus.confirmed and entry.decided_by_id == confirmer.id
    assert application.status is S.decided, [e.note for e in application.events]
    pulls = db.session.scalars(select(DataPull).where(DataPull.manual_entry_id == entry.id)).all()
    assert {pull.person_id for pull in pulls} == {member.person_id for member in application.members}
    by_person = {pull.person_id: pull for pull in pulls}
    assert [line["month"] for line in by_person[head.person_id].payload] == _months(application)
    assert all(pull.status.value == "not_found" for pid, pull in by_person.items() if pid != head.person_id)
    [assessment] = db.session.scalars(select(Assessment).where(Assessment.application_id == application.id)).all()
    head_facts = next(m for m in assessment.facts["members"] if m["pin"] == head.person.pin)
    assert sum(line["amount"] for line in head_facts["income"] if line["month"] in _months(application)) == 3_600_000
    assert len(_audits(application, "manual_record.confirmed")) == 1

    page = html.unescape(client.get(f"/applications/{application.id}").get_data(as_text=True))
    assert "Part of the evidence was entered by hand from documents" in page
    assert f"entered by {registrar.full_name}" in page and f"confirmed by {confirmer.full_name}" in page
    assert "ST-2026/118" in page and "entered by hand" in page
    scan = client.get(f"/applications/{application.id}/manual-entries/{entry.id}/document")
    assert scan.status_code == 200 and scan.data == PDF and scan.mimetype == "application/pdf"
    assert len(_audits(application, "manual_record.document_viewed")) == 1


def test_an_entry_needs_the_document_and_the_attestation(app, client, waiting, registrar):
    sign_in(client, registrar)
    data = _form(client, waiting, document_type=None, document_number="", document_date="2999-01-01", attest=None)
    response = client.post(f"/applications/{waiting.id}/manual/tax", data=data)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "The records were not saved" in text
    assert "Choose the type of the document." in text and "cannot be dated in the future" in text
    assert "Confirm that you have read these records from the document." in text
    assert not _entries(waiting)


def test_a_bad_value_is_refused_beside_its_field(app, client, waiting, registrar):
    sign_in(client, registrar)
    head = waiting.members[0]
    prefix = manual.field_name(head.person_id, "income", 0)
    data = _form(client, waiting, **{prefix + "amount": "-5", prefix + "source": "pension"})
    response = client.post(f"/applications/{waiting.id}/manual/tax", data=data)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "Choose one of the values offered." in text
    assert "Enter an amount of 0 or more" in text and not _entries(waiting)


def test_who_may_enter_and_who_may_confirm(app, client, waiting, registrar, confirmer):
    sign_in(client, confirmer)  # a social worker confirms but does not enter
    assert client.get(f"/applications/{waiting.id}/manual/tax").status_code == 403
    client.post("/logout", data={"csrf_token": client.csrf})
    mahalla = factories.make_user("mahalla_worker", areas=ALL_REGIONS)
    sign_in(client, mahalla)  # a mahalla worker enters but does not confirm
    assert client.post(f"/applications/{waiting.id}/manual/tax", data=_form(client, waiting)).status_code == 302
    [entry] = _entries(waiting)
    assert client.post(f"/applications/{waiting.id}/manual-entries/{entry.id}/confirm",
                       data={"csrf_token": client.csrf}).status_code == 403
    outsider = factories.make_user("registrar", areas=["UZ-XO"] if waiting.area.code[:5] != "UZ-XO" else ["UZ-TK"])
    client.post("/logout", data={"csrf_token": client.csrf})
    sign_in(client, outsider)
    assert client.post(f"/applications/{waiting.id}/manual-entries/{entry.id}/confirm",
                       data={"csrf_token": client.csrf}).status_code == 404
    db.session.refresh(entry)
    assert entry.status is ManualEntryStatus.pending


def test_rejected_records_never_count_and_a_new_entry_may_follow(app, client, waiting, registrar, confirmer):
    sign_in(client, registrar)
    client.post(f"/applications/{waiting.id}/manual/tax", data=_form(client, waiting))
    [entry] = _entries(waiting)
    assert client.get(f"/applications/{waiting.id}/manual/tax").status_code == 302  # one pending entry at a time
    client.post("/logout", data={"csrf_token": client.csrf})
    sign_in(client, confirmer)
    assert client.post(f"/applications/{waiting.id}/manual-entries/{entry.id}/reject",
                       data={"csrf_token": client.csrf, "reason": "amounts differ from the certificate"}
                       ).status_code == 302
    db.session.refresh(entry)
    db.session.refresh(waiting)
    assert entry.status is ManualEntryStatus.rejected and waiting.status is S.manual_verification
    assert not db.session.scalars(select(DataPull).where(DataPull.manual_entry_id == entry.id)).all()
    assert client.post(f"/applications/{waiting.id}/manual-entries/{entry.id}/confirm",
                       data={"csrf_token": client.csrf}).status_code == 302
    db.session.refresh(entry)
    assert entry.status is ManualEntryStatus.rejected  # a rejected entry cannot be confirmed afterwards
    assert len(_audits(waiting, "manual_record.rejected")) == 1
    client.post("/logout", data={"csrf_token": client.csrf})
    sign_in(client, registrar)
    assert client.get(f"/applications/{waiting.id}/manual/tax").status_code == 200


def test_the_form_offers_the_fields_each_source_returns(app):
    securities = {kind: [field.name for field in manual.fields_of(kind, "securities")]
                  for kind in manual.record_kinds("securities")}
    assert securities == {"securities": ["nominal_value", "market_value"],
                          "income": ["source", "month", "amount", "currency"]}
    [source] = [field for field in manual.fields_of("income", "securities") if field.name == "source"]
    assert source.choices == ("securities",)
    assert [field.name for field in manual.fields_of("status", "disability")] == ["status", "start", "end", "group"]
