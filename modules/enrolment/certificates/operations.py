"""Issuing, finding, revoking and printing low-income certificates, and keeping them true to the enrolments.

A household with at least one active enrolment (status active, period not yet over) may have one current
certificate. It is valid from its issue day to the latest period end of those enrolments and names their
programmes. When the enrolments change (`reconcile`, run at commit for every household whose enrolments or
circumstances changed): no active enrolment left → revoked ("enrolments_ended"); a member died → revoked
("member_died"); a decision or a re-assessment finds the household ineligible → revoked ("ineligible"); the
programmes or the end of validity changed → revoked ("superseded") and a new one issued in its place.
Operations flush and audit; they never commit.
"""

from __future__ import annotations

import base64
import calendar
import functools
import io
from datetime import date

import segno
from flask import current_app, has_request_context, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from modules.enrolment.certificates import credential as vc
from modules.enrolment.certificates import keys, status_list
from modules.enrolment.certificates.models import Certificate
from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.registration.models import Household, HouseholdMember, Relation
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Programme
from webapp.timeutil import local_today, utcnow

LANGUAGES = ("uz", "ru")
ATTACHMENT_NAME = "credential.jwt"
MAX_UPLOAD = 5 * 1024 * 1024  # a certificate PDF is far smaller; anything larger is not one
REASONS = ("superseded", "enrolments_ended", "ineligible", "member_died")


class CertificateRefusal(Refusal):
    """A certificate that cannot be issued; the message says why."""


# --- reading --------------------------------------------------------------------------------------------------


def active_enrolments(household_id: int, today: date | None = None) -> list[Enrolment]:
    today = today or local_today()
    return list(db.session.scalars(select(Enrolment).where(
        Enrolment.household_id == household_id, Enrolment.status == EnrolmentStatus.active,
        Enrolment.period_end >= today).order_by(Enrolment.id)))


def _programmes(enrolments: list[Enrolment]) -> list[dict]:
    ids = sorted({enrolment.programme_id for enrolment in enrolments})
    rows = db.session.scalars(select(Programme).where(Programme.id.in_(ids)).order_by(Programme.code))
    # The certificate's two languages only: every byte makes the QR code denser.
    return [{"code": row.code, "name": {"uz": row.name_uz, "ru": row.name_ru}} for row in rows]


def _head(household: Household, enrolments: list[Enrolment]):
    """The household's current head; else the payee of its enrolments (the applicant)."""
    member = db.session.scalar(select(HouseholdMember).where(
        HouseholdMember.household_id == household.id, HouseholdMember.relation == Relation.head,
        HouseholdMember.left_at.is_(None)).order_by(HouseholdMember.id.desc()).limit(1))
    if member is not None:
        return member.person
    from modules.registration.models import Person

    return db.session.get(Person, enrolments[0].payee_person_id) if enrolments else None


def masked_name(person) -> str:
    """The surname's first letter and the first name's initial, the rest hidden: "K*** A." — enough for a clerk
    who has the person's ID card in front of them, too little to find anyone by."""
    last = (person.last_name or "").strip()
    first = (person.first_name or "").strip()
    return f"{last[:1]}*** {first[:1]}.".strip()


def current(household: Household, today: date | None = None) -> Certificate | None:
    """The household's certificate that is neither revoked nor past its validity, or None."""
    today = today or local_today()
    return db.session.scalar(select(Certificate).where(
        Certificate.household_id == household.id, Certificate.revoked_at.is_(None),
        Certificate.valid_until >= today).order_by(Certificate.id.desc()).limit(1))


def _latest_unrevoked(household_id: int) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(
        Certificate.household_id == household_id, Certificate.revoked_at.is_(None))
        .order_by(Certificate.id.desc()).limit(1))


def _matches(certificate: Certificate, enrolments: list[Enrolment]) -> bool:
    """Whether a certificate still says what the active enrolments say (programmes and end of validity)."""
    return (bool(enrolments) and [item["code"] for item in certificate.programmes]
            == [item["code"] for item in _programmes(enrolments)]
            and certificate.valid_until == max(enrolment.period_end for enrolment in enrolments))


def by_serial(serial: str) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(Certificate.serial == serial))


# --- issuing and revoking ---------------------------------------------------------------------------------------


def base_url() -> str:
    """Where the issuer publishes its key set and status lists: CERTIFICATE_BASE_URL, else the request's host."""
    configured = current_app.config.get("CERTIFICATE_BASE_URL")
    if configured:
        return configured.rstrip("/") + "/"
    if has_request_context():
        return request.url_root
    return "http://localhost/"


def check_digit(digits: str) -> int:
    """Luhn: catches any single mistyped digit and most swaps of neighbours when a serial is read out."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def make_serial(year: int, number: int) -> str:
    digits = f"{year:04d}{number:06d}"
    return f"SRSP-C-{year:04d}-{number:06d}-{check_digit(digits)}"


def serial_is_well_formed(serial: str) -> bool:
    parts = serial.split("-")
    if len(parts) != 5 or parts[:2] != ["SRSP", "C"] or not all(part.isdigit() for part in parts[2:]):
        return False
    return check_digit(parts[2] + parts[3]) == int(parts[4])


def issue(household: Household, actor=None, language: str | None = None, today: date | None = None) -> Certificate:
    """A new certificate for a household with an active enrolment (the current one, if any, is superseded);
    refuses in words when there is none."""
    certificate, previous = _create(household, actor, today or local_today())
    _announce(certificate, previous, actor, language)
    return certificate


def _create(household: Household, actor, today: date) -> tuple[Certificate, Certificate | None]:
    """The new certificate stored (nothing audited yet) and the one it will supersede."""
    enrolments = active_enrolments(household.id, today)
    if not enrolments:
        raise CertificateRefusal(_l("This household has no active enrolment, so no low-income certificate can be "
                                    "issued."))
    head = _head(household, enrolments)
    if head is None:
        raise CertificateRefusal(_l("This household has no head on record, so no low-income certificate can be "
                                    "issued."))
    previous = _latest_unrevoked(household.id)
    return _allocate(household, head, enrolments, actor, today), previous


def _announce(certificate: Certificate, previous: Certificate | None, actor, language: str | None) -> None:
    """Supersede the previous certificate and audit the issue."""
    if previous is not None:
        revoke(previous, "superseded", actor, superseded_by=certificate)
    audit.record("certificate.issued", "certificate", certificate.id,
                 {"serial": certificate.serial, "household": certificate.household_id,
                  "programmes": [item["code"] for item in certificate.programmes],
                  "valid_until": certificate.valid_until.isoformat(), "kid": certificate.kid,
                  "language": language, "previous": previous.serial if previous else None}, actor=actor)


def download(household: Household, language: str = "uz", actor=None) -> tuple[Certificate, bytes]:
    """The household's certificate as a PDF, issued first when it has none that matches its enrolments. The PDF is
    rendered before anything is audited: the audit chain's lock is held from the first audited event to the commit,
    so a render inside it would keep every other audited request waiting."""
    found = current(household)
    if found is not None and _matches(found, active_enrolments(household.id)):
        document = render(found, language)
        _downloaded(found, language, actor)
        return found, document
    certificate, previous = _create(household, actor, local_today())
    document = render(certificate, language)
    _announce(certificate, previous, actor, language)
    _downloaded(certificate, language, actor)
    return certificate, document


def _allocate(household, head, enrolments, actor, today) -> Certificate:
    """Insert the certificate under the next free status index; two issuers racing for the same index retry."""
    programmes = _programmes(enrolments)
    valid_until = max(enrolment.period_end for enrolment in enrolments)
    for _attempt in range(5):
        index = _next_status_index()
        serial = make_serial(today.year, index + 1)
        payload = vc.claims(serial=serial, masked_name=masked_name(head), programmes=programmes, valid_from=today,
                            valid_until=valid_until, status_index=index, base_url=base_url())
        token, kid = vc.sign(payload)
        certificate = Certificate(
            serial=serial, household_id=household.id, head_person_id=head.id, programmes=programmes,
            issued_at=utcnow(), valid_from=today, valid_until=valid_until, status_index=index, kid=kid,
            credential=token, issued_by_id=_user_id(actor))
        try:
            with db.session.begin_nested():
                db.session.add(certificate)
                db.session.flush()
        except IntegrityError:
            continue
        return certificate
    raise RuntimeError("could not allocate a certificate status index")


def _next_status_index() -> int:
    """PostgreSQL: the sequence's next value, never reused and never waited for (concurrent issuers racing for the
    highest index plus one would wait on each other's uncommitted rows while holding the audit chain's lock).
    SQLite (one writer at a time): the highest index plus one."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.scalar(text("SELECT nextval('certificate_status_index_seq')"))
    highest = db.session.scalar(select(func.max(Certificate.status_index)))
    return 0 if highest is None else highest + 1


def _user_id(actor) -> int | None:
    from webapp.models import User

    return actor.id if isinstance(actor, User) else None


def current_or_issue(household: Household, actor=None, language: str | None = None) -> Certificate:
    """The current certificate if it still matches the enrolments, else a new one (refused without enrolment)."""
    found = current(household)
    if found is not None and _matches(found, active_enrolments(household.id)):
        return found
    return issue(household, actor, language)


def revoke(certificate: Certificate, reason: str, actor=None, superseded_by: Certificate | None = None) -> bool:
    """Revoke (sets its bit in the status list); False if it already was."""
    if reason not in REASONS:
        raise ValueError(f"unknown revocation reason {reason!r}")
    if certificate.revoked_at is not None:
        return False
    certificate.revoked_at = utcnow()
    certificate.revocation_reason = reason
    certificate.superseded_by_id = superseded_by.id if superseded_by else None
    db.session.flush()
    audit.record("certificate.revoked", "certificate", certificate.id,
                 {"serial": certificate.serial, "reason": reason,
                  "superseded_by": superseded_by.serial if superseded_by else None}, actor=actor)
    return True


def reconcile(household_id: int, hints: set[str], actor=None, today: date | None = None) -> Certificate | None:
    """Bring a household's certificate in line with what changed; returns the re-issued certificate, if any.

    A household that never had a certificate gets none here: it is issued when someone asks for it."""
    certificate = _latest_unrevoked(household_id)
    today = today or local_today()
    if certificate is None or certificate.valid_until < today:
        return None
    enrolments = active_enrolments(household_id, today)
    if "member_died" in hints:
        revoke(certificate, "member_died", actor)
    elif "ineligible" in hints:
        revoke(certificate, "ineligible", actor)
    elif not enrolments:
        revoke(certificate, "enrolments_ended", actor)
    elif (ends := max(enrolment.period_end for enrolment in enrolments)) < certificate.valid_until \
            and ends <= _month_end(today):
        # Every enrolment now stops by the end of this month, sooner than before: a new assessment stopped them
        # (each is paid to the end of the month), so the household is no longer eligible.
        revoke(certificate, "ineligible", actor)
    elif not _matches(certificate, enrolments):
        return issue(db.session.get(Household, household_id), actor, today=today)
    return None


def reconcile_many(pending: dict[int, set[str]], actor=None) -> None:
    """`reconcile` for every household of `pending` ({household id: hints}) that holds a certificate; the others
    (nearly all, when a run enrols thousands of households) are skipped with one query per chunk."""
    households = sorted(pending)
    for start in range(0, len(households), _CHUNK):
        chunk = households[start:start + _CHUNK]
        holding = db.session.scalars(select(Certificate.household_id).distinct().where(
            Certificate.household_id.in_(chunk), Certificate.revoked_at.is_(None)))
        for household_id in sorted(holding):
            reconcile(household_id, pending[household_id], actor)


_CHUNK = 5000


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


# --- the PDF ----------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def qr_data_uri(token: str) -> str:
    # Kept per credential: encoding a 1.3 KB symbol (trying its eight masks) is a third of a download's time.
    # Level L (raised by segno when the same size allows): the credential is ~1.3 KB, and a smaller symbol with
    # larger modules scans better from paper than a denser one with more redundancy.
    return segno.make(token, error="l", micro=False).png_data_uri(scale=3, border=4)


def pdf(certificate: Certificate, language: str = "uz", actor=None) -> bytes:
    """The printable certificate (see `render`), audited as a download."""
    document = render(certificate, language)
    _downloaded(certificate, language, actor)
    return document


def _downloaded(certificate: Certificate, language: str, actor) -> None:
    audit.record("certificate.downloaded", "certificate", certificate.id,
                 {"serial": certificate.serial, "language": language if language in LANGUAGES else "uz"},
                 actor=actor)


def render(certificate: Certificate, language: str = "uz") -> bytes:
    """The printable certificate in Uzbek and Russian (`language` first), with the QR code; the credential is also
    attached to the PDF (credential.jwt) so software reads it back without decoding the image."""
    from weasyprint import HTML, Attachment

    language = language if language in LANGUAGES else "uz"
    order = [language] + [other for other in LANGUAGES if other != language]
    sections = []
    for code in order:
        with force_locale(code):
            sections.append({"language": code, "html": _render(
                "enrolment/certificate_section.html", certificate=certificate, language=code,
                head=certificate.head)})
    with force_locale(language):
        html = _render("enrolment/certificate.html", certificate=certificate, sections=sections,
                       language=language, qr=qr_data_uri(certificate.credential),
                       jwks_url=base_url() + ".well-known/jwks.json",
                       verify_url=base_url() + "verify")
    attachment = Attachment(string=certificate.credential, name=ATTACHMENT_NAME,
                            description="W3C Verifiable Credential (vc+jwt)")
    return HTML(string=html, base_url=current_app.root_path).write_pdf(attachments=[attachment])


def _render(name: str, **context) -> str:
    """A template rendered without the pages' context processors: the PDF is made by commands too, outside any
    request, and shows nothing of the session."""
    return current_app.jinja_env.get_template(name).render(**context)


def credential_from_pdf(data: bytes) -> str | None:
    """The credential attached to a certificate PDF, or None (not a PDF, or none attached)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        attachments = PdfReader(io.BytesIO(data)).attachments
    except (PyPdfError, ValueError, KeyError, TypeError, OSError):
        return None
    for content in attachments.get(ATTACHMENT_NAME, []):
        return content.decode("ascii", errors="replace")
    return None


def read_input(data: bytes) -> str:
    """The text to verify from an upload or a file: a PDF's attached credential, else the text itself."""
    if data[:5] == b"%PDF-":
        return credential_from_pdf(data) or ""
    return data.decode("utf-8", errors="replace")


# --- verifying on this server -----------------------------------------------------------------------------------


def verify_here(text: str) -> vc.Verification:
    """Verify with this server's own key set and the current status list of the list the credential names."""
    token = vc.extract(text) or ""
    lists = {}
    list_url = _claimed_list_url(token)
    if list_url is not None:
        base, _sep, number = list_url.rpartition("/credentials/status/")
        if number.isdigit() and 1 <= int(number) <= status_list.lists_in_use():
            lists[list_url] = status_list.credential(int(number), base + "/", vc.issuer(base + "/"))
    return vc.verify(token, keys.jwks(), lists or None)


def _claimed_list_url(token: str) -> str | None:
    """The status list URL a token claims, unverified (only to choose which list to check it against)."""
    import json

    try:
        part = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return str(payload["credentialStatus"]["statusListCredential"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None
