"""Low-income certificates: issued as a PDF whose QR code and attachment carry a signed W3C Verifiable Credential,
verified offline with the published key set and a saved status list, revoked and re-issued as the household's
enrolments change, checked on the public /verify page and through the `srsp certificate` commands."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from modules.enrolment import status as machine
from modules.enrolment.certificates import credential as vc
from modules.enrolment.certificates import keys, operations, status_list
from modules.enrolment.certificates.models import Certificate
from modules.enrolment.models import EnrolmentStatus
from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp import signals
from webapp.extensions import db
from webapp.models.audit import AuditEvent
from webapp.timeutil import local_today, utcnow


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


@pytest.fixture
def family():
    family = factories.assessed_family()
    family["enrolment"] = factories.enrol(family, start=_month_start(local_today()), months=12)
    return family


def _status_list_token() -> str:
    base = operations.base_url()
    return status_list.credential(1, base, vc.issuer(base))


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _actions(certificate: Certificate) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "certificate", AuditEvent.object_id == str(certificate.id))
        .order_by(AuditEvent.id)))


def test_an_issued_certificate_renders_and_its_attached_credential_verifies_offline(family, registrar):
    certificate = operations.issue(family["household"], registrar, "uz")
    document = operations.pdf(certificate, "ru", actor=registrar)

    assert document.startswith(b"%PDF-")
    token = operations.credential_from_pdf(document)
    assert token == certificate.credential
    result = vc.verify(token, keys.jwks(), {"*": _status_list_token()})
    assert result.contract() == {"valid": True, "status": "valid", "serial": certificate.serial,
                                 "valid_until": family["enrolment"].period_end.isoformat()}
    assert result.status_checked
    assert _actions(certificate) == ["certificate.issued", "certificate.downloaded"]
    assert certificate.issued_by_id == registrar.id


def test_the_credential_is_a_vc_jwt_with_the_minimum_and_no_pin_or_amount(family):
    certificate = operations.issue(family["household"])
    header = json.loads(base64.urlsafe_b64decode(certificate.credential.split(".")[0] + "=="))
    payload = _payload(certificate.credential)

    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt" and header["kid"] == certificate.kid
    assert payload["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert payload["type"] == ["VerifiableCredential", "LowIncomeCertificate"]
    head = family["head"]
    assert payload["credentialSubject"]["name"] == f"{head.last_name[0]}*** {head.first_name[0]}."
    assert [item["code"] for item in payload["credentialSubject"]["programmes"]] == ["child_allowance"]
    entry = payload["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"].endswith("/credentials/status/1")
    assert int(entry["statusListIndex"]) == certificate.status_index
    text = json.dumps(payload, ensure_ascii=False)
    for member in [head, *family["children"]]:
        assert member.pin not in text and member.first_name not in text
    assert "250000" not in text
    assert operations.serial_is_well_formed(certificate.serial)
    assert not operations.serial_is_well_formed(certificate.serial[:-1] + str((int(certificate.serial[-1]) + 1) % 10))


def test_a_tampered_or_foreign_credential_is_invalid(family):
    certificate = operations.issue(family["household"])
    header, body, signature = certificate.credential.split(".")
    payload = _payload(certificate.credential)
    payload["validUntil"] = "2099-12-31T23:59:59Z"
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()

    forged = vc.verify(f"{header}.{forged_body}.{signature}", keys.jwks())
    assert forged.contract() == {"valid": False, "status": "invalid", "serial": None, "valid_until": None}
    assert forged.problem == "signature"
    assert vc.verify(certificate.credential, {"keys": []}).status == "invalid"
    assert vc.verify("not a credential at all", keys.jwks()).problem == "malformed"


def test_a_certificate_expires_with_the_entitlement_period(family):
    certificate = operations.issue(family["household"])
    later = utcnow() + timedelta(days=400)

    result = vc.verify(certificate.credential, keys.jwks(), now=later)
    assert result.contract() == {"valid": False, "status": "expired", "serial": certificate.serial,
                                 "valid_until": certificate.valid_until.isoformat()}


def test_ending_the_enrolment_revokes_the_certificate_in_the_status_list(family, tmp_path):
    certificate = operations.issue(family["household"])
    saved_before = _status_list_token()
    db.session.commit()

    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")
    db.session.commit()

    assert certificate.revoked_at is not None and certificate.revocation_reason == "enrolments_ended"
    assert operations.current(family["household"]) is None
    saved = tmp_path / "status-1.jwt"
    saved.write_text(_status_list_token())
    assert vc.verify(certificate.credential, keys.jwks(), {"*": saved.read_text()}).status == "revoked"
    # A verifier still holding the list from before the revocation sees what that list said.
    assert vc.verify(certificate.credential, keys.jwks(), {"*": saved_before}).status == "valid"
    bits = status_list.decode(_payload(saved.read_text())["credentialSubject"]["encodedList"])
    assert len(bits) * 8 == status_list.LIST_SIZE >= 131_072
    assert status_list.bit(bits, certificate.status_index)
    assert _actions(certificate)[-1] == "certificate.revoked"


def test_a_new_programme_supersedes_the_certificate_with_a_new_one(family):
    old = operations.issue(family["household"])
    db.session.commit()

    factories.enrol(family, beneficiary=family["head"], programme="material_support",
                    start=_month_start(local_today()), months=6)
    db.session.commit()

    new = operations.current(family["household"])
    assert old.revocation_reason == "superseded" and old.superseded_by_id == new.id
    assert [item["code"] for item in new.programmes] == ["child_allowance", "material_support"]
    assert new.valid_until == family["enrolment"].period_end  # the latest period end
    assert vc.verify(new.credential, keys.jwks(), {"*": _status_list_token()}).status == "valid"
    assert vc.verify(old.credential, keys.jwks(), {"*": _status_list_token()}).status == "revoked"


def test_a_shortened_period_that_stops_every_enrolment_revokes_as_ineligible(family):
    """A re-assessment that finds the household ineligible pays to the end of the month (modules/enrolment/following):
    the enrolment stays active with a shorter period, and the certificate is withdrawn."""
    certificate = operations.issue(family["household"])
    db.session.commit()
    today = local_today()
    from modules.enrolment.following import month_end

    family["enrolment"].period_end = month_end(today)
    db.session.commit()

    assert certificate.revocation_reason == "ineligible"
    assert operations.current(family["household"]) is None


def test_a_shortened_period_that_goes_on_past_this_month_reissues(family):
    certificate = operations.issue(family["household"])
    db.session.commit()
    family["enrolment"].period_end = family["enrolment"].period_end - timedelta(days=60)
    db.session.commit()

    new = operations.current(family["household"])
    assert certificate.revocation_reason == "superseded"
    assert new.valid_until == family["enrolment"].period_end


def test_a_members_death_revokes_the_certificate(family):
    certificate = operations.issue(family["household"])
    db.session.commit()
    child = family["children"][1]

    signals.person_death_recorded.send(child, death_date=local_today(), source="test", message_id="m-1")
    db.session.commit()

    assert certificate.revocation_reason == "member_died"


def test_a_household_without_a_certificate_gets_none_when_its_enrolments_change(family):
    machine.transition(family["enrolment"], EnrolmentStatus.suspended, "check")
    db.session.commit()

    assert db.session.scalar(select(Certificate).where(Certificate.household_id == family["household"].id)) is None


def test_no_active_enrolment_is_refused_in_words(family):
    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")

    with pytest.raises(operations.CertificateRefusal, match="no active enrolment"):
        operations.issue(family["household"])
    with pytest.raises(operations.CertificateRefusal):
        operations.current_or_issue(family["household"])


def test_current_or_issue_reuses_a_current_certificate(family):
    first = operations.current_or_issue(family["household"], None, "uz")
    assert operations.current_or_issue(family["household"], None, "ru") is first


# --- the commands -----------------------------------------------------------------------------------------------


def test_cli_issue_writes_the_pdf_and_verify_prints_the_contract(app, family, tmp_path):
    runner = app.test_cli_runner()
    target = tmp_path / "certificate.pdf"

    issued = runner.invoke(args=["certificate", "issue", "--application", str(family["application"].id),
                                 "-o", str(target), "--language", "ru"])
    assert issued.exit_code == 0, issued.output
    certificate = operations.current(family["household"])
    assert target.read_bytes().startswith(b"%PDF-")

    checked = runner.invoke(args=["certificate", "verify", str(target)])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {"valid": True, "status": "valid", "serial": certificate.serial,
                                          "valid_until": certificate.valid_until.isoformat()}
    pasted = runner.invoke(args=["certificate", "verify", certificate.credential])
    assert pasted.exit_code == 0 and json.loads(pasted.stdout)["status"] == "valid"


def test_cli_verify_with_a_saved_status_list_and_keys_sees_the_revocation(app, family, tmp_path):
    certificate = operations.issue(family["household"])
    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")
    db.session.commit()
    (tmp_path / "status.jwt").write_text(_status_list_token())
    (tmp_path / "jwks.json").write_text(json.dumps(keys.jwks()))
    (tmp_path / "qr.txt").write_text(certificate.credential + "\n")

    result = app.test_cli_runner().invoke(args=[
        "certificate", "verify", str(tmp_path / "qr.txt"), "--status-list", str(tmp_path / "status.jwt"),
        "--jwks", str(tmp_path / "jwks.json")])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"valid": False, "status": "revoked", "serial": certificate.serial,
                                         "valid_until": certificate.valid_until.isoformat()}


def test_cli_verify_of_garbage_is_invalid(app):
    result = app.test_cli_runner().invoke(args=["certificate", "verify", "hello.world"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"valid": False, "status": "invalid", "serial": None, "valid_until": None}


def test_cli_issue_without_an_active_enrolment_exits_2_with_a_message(app, family, tmp_path):
    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")
    db.session.commit()
    target = tmp_path / "none.pdf"

    result = app.test_cli_runner().invoke(args=["certificate", "issue", "--application",
                                                str(family["application"].id), "-o", str(target)])
    assert result.exit_code == 2
    assert "no active enrolment" in result.stderr
    assert not target.exists()
    missing = app.test_cli_runner().invoke(args=["certificate", "issue", "--application", "987654", "-o",
                                                 str(target)])
    assert missing.exit_code == 2


# --- the pages --------------------------------------------------------------------------------------------------


def test_the_verify_page_answers_in_words(client, family):
    certificate = operations.issue(family["household"])
    db.session.commit()
    token = csrf_token(client, "/verify")

    page = client.post("/verify", data={"credential": certificate.credential, "csrf_token": token})
    text = factories.page_text(page)
    assert page.status_code == 200
    assert "Valid: this certificate is genuine and in force." in text
    assert certificate.serial in text and f"{family['head'].last_name[0]}***" in text
    assert family["head"].pin not in text and family["head"].last_name not in text

    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")
    db.session.commit()
    revoked = factories.page_text(client.post("/verify", data={"credential": certificate.credential,
                                                               "csrf_token": token}))
    assert "Revoked" in revoked
    garbage = factories.page_text(client.post("/verify", data={"credential": "abc", "csrf_token": token}))
    assert "Not valid" in garbage


def test_the_verify_page_reads_an_uploaded_pdf(client, family):
    import io

    certificate = operations.issue(family["household"])
    document = operations.pdf(certificate, "uz")
    db.session.commit()
    token = csrf_token(client, "/verify")

    page = client.post("/verify", data={"csrf_token": token, "credential": "",
                                        "file": (io.BytesIO(document), "certificate.pdf")},
                       content_type="multipart/form-data")
    assert "Valid: this certificate is genuine and in force." in factories.page_text(page)


def test_the_verify_page_needs_no_sign_in_and_keeps_csrf(client):
    assert client.get("/verify").status_code == 200
    assert client.post("/verify", data={"credential": "x"}).status_code == 400


def test_the_key_set_and_the_status_list_are_public_and_cacheable(client, family):
    operations.issue(family["household"])
    db.session.commit()

    published = client.get("/.well-known/jwks.json")
    assert published.status_code == 200 and "public" in published.headers["Cache-Control"]
    assert published.mimetype == "application/jwk-set+json"
    document = published.get_json()
    assert document["keys"] and all(key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key
                                    for key in document["keys"])

    listed = client.get("/credentials/status/1")
    assert listed.status_code == 200 and listed.mimetype == "application/vc+jwt"
    assert "max-age" in listed.headers["Cache-Control"]
    payload = _payload(listed.get_data(as_text=True))
    assert payload["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert client.get("/credentials/status/987654").status_code == 404


def test_rotation_keeps_old_keys_published(family):
    old = operations.issue(family["household"])
    retired = keys.signing_key().kid
    keys.rotate()
    factories.enrol(family, beneficiary=family["head"], programme="material_support",
                    start=_month_start(local_today()), months=3)
    new = operations.issue(family["household"])

    assert new.kid != retired == old.kid
    assert {key["kid"] for key in keys.jwks()["keys"]} >= {old.kid, new.kid}
    assert vc.verify(old.credential, keys.jwks(), now=utcnow()).status == "valid"


def test_staff_print_the_certificate_from_the_application_page(client, family, registrar):
    sign_in(client, registrar)
    page = client.get(f"/applications/{family['application'].id}")
    assert f"/applications/{family['application'].id}/certificate.pdf" in page.get_data(as_text=True)

    response = client.get(f"/applications/{family['application'].id}/certificate.pdf?language=ru")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    certificate = operations.current(family["household"])
    assert _actions(certificate) == ["certificate.issued", "certificate.downloaded"]


def test_staff_printing_without_an_active_enrolment_are_told_why(client, family, registrar):
    machine.transition(family["enrolment"], EnrolmentStatus.ended, "moved abroad")
    db.session.commit()
    sign_in(client, registrar)

    response = client.get(f"/applications/{family['application'].id}/certificate.pdf", follow_redirects=True)
    assert "no active enrolment" in factories.page_text(response)


def test_staff_outside_the_area_do_not_see_the_certificate(client, family):
    sign_in(client, factories.make_user("registrar", areas=["UZ-SA"]))
    assert client.get(f"/applications/{family['application'].id}/certificate.pdf").status_code == 404


def test_an_ineligible_decision_on_a_new_claim_revokes_the_certificate():
    """Recertification decides a new claim: found ineligible, the household's certificate is withdrawn at once."""
    from modules.means_test.models import Decision

    family = factories.make_family(children=2)
    assessment = factories.decided_assessment(family, monthly_income=9_000_000)
    assert assessment.decision is Decision.ineligible
    family["application"], family["assessment"] = assessment.application, assessment
    factories.enrol(family, start=_month_start(local_today()), months=12)  # from the household's earlier claim
    certificate = operations.issue(family["household"])
    db.session.commit()

    factories.decide(assessment)
    db.session.commit()

    assert certificate.revocation_reason == "ineligible"


def test_a_re_assessment_found_ineligible_withdraws_the_certificate_when_confirmed(family):
    """Confirming an ineligible re-assessment stops the enrolments through modules/enrolment/following (paid to the
    end of the month); the certificate is revoked in the same transaction."""
    from decimal import Decimal

    from modules.enrolment.following import follow, month_end
    from modules.means_test.models import Assessment, Decision

    certificate = operations.issue(family["household"])
    db.session.commit()
    application = family["application"]
    assessment = Assessment(
        application_id=application.id, household_id=application.household_id, kind="initial", pack_id="uz",
        pack_version="test", engine="durable_rules", as_of=local_today(), decision=Decision.ineligible,
        per_capita_income=Decimal("2000000.00"), monthly_total=Decimal("0.00"), reasons=[], programmes=[],
        facts={}, trace={}, created_at=utcnow())
    db.session.add(assessment)
    db.session.flush()

    follow(assessment, local_today(), "re-assessed: not eligible")
    db.session.commit()

    assert family["enrolment"].period_end == month_end(local_today())
    assert certificate.revocation_reason == "ineligible"
    assert operations.current(family["household"]) is None
