"""Records entered by hand when a source did not answer, from a document, confirmed by a second person.

An application whose collection failed waits in manual verification. Besides retrying, a staff member may type
the missing source's records from a document the family brought (a certificate, a statement…): the form offers
exactly the fields the source would have returned (`connectors.records`), for each member the source did not
answer for. The staff member names the document (type, number, date; a scan may be attached) and attests that
the records were read from it. Nothing counts yet: a second staff member with the right to confirm, never the
one who entered them, confirms; only then is each member's records stored as a data pull marked manual, and the
collection finishes as if the source had answered (assessment and decision follow at once).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import select
from werkzeug.utils import secure_filename

from connectors import records as canonical
from connectors.catalog import BY_NAME
from modules.means_test import collection
from modules.means_test.evidence import latest_pulls, missing_sources
from modules.means_test.labels import DOCUMENT_TYPES
from modules.means_test.models import DataPull, ManualEntry, ManualEntryStatus, PullStatus
from modules.registration import status as status_machine
from modules.registration.models import Application, ApplicationMember, ApplicationStatus
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.timeutil import local_today, utcnow

S = ApplicationStatus
E = ManualEntryStatus

UPLOAD_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
DEFAULT_ROWS, MAX_ROWS = 3, 24
MAX_TEXT = 200

# What each field of a canonical record is called on the form.
FIELD_LABELS = {
    "last_name": _l("Last name"), "first_name": _l("First name"), "patronymic": _l("Patronymic"),
    "birth_date": _l("Birth date"), "sex": _l("Sex"), "death_date": _l("Date of death"),
    "related_pin": _l("PIN of the related person"), "relation": _l("Relation"),
    "area_code": _l("Mahalla code"), "address": _l("Address"),
    "source": _l("Kind of income"), "month": _l("Month"), "amount": _l("Amount"), "currency": _l("Currency"),
    "year": _l("Year made"), "vehicle_kind": _l("Kind of vehicle"), "estate_kind": _l("Kind of property"),
    "nominal_value": _l("Nominal value"), "market_value": _l("Market value (if traded)"),
    "status": _l("Status"), "start": _l("From"), "end": _l("Until"), "group": _l("Disability group"),
    "event": _l("Event"), "date": _l("Date"),
}
KIND_LABELS = {
    "identity": _l("Identity"), "family_link": _l("Family links"), "address": _l("Address"),
    "income": _l("Income by month"), "vehicle": _l("Vehicles"), "real_estate": _l("Real estate"),
    "securities": _l("Securities"), "status": _l("Statuses"), "vital_event": _l("Civil status events"),
}
SINGLE_ROW_KINDS = {"identity", "address"}
_OWNER_FIELDS = {"pin", "owner_pin", "kind"}
_CHOICES = {
    "sex": ("M", "F"), "relation": ("spouse", "child", "parent", "head", "other"),
    "group": ("1", "2", "3", "child"), "vehicle_kind": ("passenger", "truck", "motorcycle"),
    "estate_kind": ("residential", "non_residential"), "event": ("birth", "death", "marriage", "divorce"),
}
# The values each source gives for its income lines and statuses (connectors/sources/*.py normalize()).
_SOURCE_CHOICES = {
    "tax": {"source": ("salary", "entrepreneurial", "property")},
    "pension_fund": {"source": ("pension", "benefit")},
    "employment": {"source": ("unemployment_benefit", "public_works"),
                   "status": ("registered_unemployed", "employment_registered")},
    "courts": {"source": ("alimony_received", "alimony_paid")},
    "securities": {"source": ("securities",)},
    "education": {"status": ("student",)},
    "penitentiary": {"status": ("detention",)},
    "local_registers": {"status": ("iron_notebook",)},
    "disability": {"status": ("disability",)},
    "population": {"status": ("military_service",)},
}
_EXTRA_KINDS = {"population": ("status",)}  # the population register also reports military service
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NUMBER = re.compile(r"^\d{1,13}([.,]\d{1,2})?$")


class ManualEntryRefused(Refusal):
    """A manual entry the rules do not allow (said in the reader's words)."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # text | date | month | number | year | pin | choice
    required: bool
    choices: tuple[str, ...] = ()
    default: str = ""

    @property
    def label(self):
        return FIELD_LABELS.get(self.name, self.name)


def record_kinds(source: str) -> tuple[str, ...]:
    return BY_NAME[source].record_kinds + _EXTRA_KINDS.get(source, ())


def fields_of(kind: str, source: str) -> list[Field]:
    """The fields a source's record of this kind carries, as form fields (the owner's PIN is the member's)."""
    shown = []
    for item in dataclasses.fields(canonical.KINDS[kind]):
        if item.name in _OWNER_FIELDS:
            continue
        required = item.default is dataclasses.MISSING
        default = item.default if isinstance(item.default, str) else ""
        choices = _SOURCE_CHOICES.get(source, {}).get(item.name) or _CHOICES.get(item.name, ())
        if choices:
            kind_of = "choice"
        elif item.name in {"birth_date", "death_date", "start", "end", "date"}:
            kind_of = "date"
        elif item.name == "month":
            kind_of = "month"
        elif item.name == "year":
            kind_of = "year"
        elif item.name == "related_pin":
            kind_of = "pin"
        elif str(item.type).startswith("float"):
            kind_of = "number"
        else:
            kind_of = "text"
        shown.append(Field(item.name, kind_of, required, tuple(choices), default))
    return shown


def rows_for(kind: str, rows: int) -> int:
    return 1 if kind in SINGLE_ROW_KINDS else rows


def field_name(person_id: int, kind: str, row: int, name: str = "") -> str:
    return f"m{person_id}-{kind}-{row}-{name}"


def missing_members(application: Application, source: str, latest: dict | None = None) -> list[ApplicationMember]:
    """The members the source has not answered for (no pull yet, or the newest one failed)."""
    latest = latest_pulls(application.id) if latest is None else latest
    return [member for member in application.members
            if (pull := latest.get((source, member.person_id))) is None or not pull.status.answered]


def pending_entry(application_id: int, source: str) -> ManualEntry | None:
    return db.session.scalar(select(ManualEntry).where(ManualEntry.application_id == application_id,
                                                       ManualEntry.source == source,
                                                       ManualEntry.status == E.pending))


def entries_of(application_id: int) -> list[ManualEntry]:
    return list(db.session.scalars(select(ManualEntry).where(ManualEntry.application_id == application_id)
                                   .order_by(ManualEntry.id)))


def check_can_enter(application: Application, source: str) -> list[ApplicationMember]:
    """The members to enter records for, or a refusal saying why nothing may be entered."""
    if source not in BY_NAME:
        raise ManualEntryRefused(_l("There is no such source."))
    if application.status is not S.manual_verification:
        raise ManualEntryRefused(_l("Records can be entered by hand only while the application waits for manual "
                                    "verification."))
    members = missing_members(application, source)
    if not members:
        raise ManualEntryRefused(_l("This source has answered for every family member: there is nothing to enter "
                                    "by hand."))
    if pending_entry(application.id, source) is not None:
        raise ManualEntryRefused(_l("Records of this source are already waiting for a second person's "
                                    "confirmation."))
    return members


def enter(application: Application, source: str, form, upload, user, rows: int = DEFAULT_ROWS) -> ManualEntry:
    """Keep the typed records as a pending entry (they do not count until another person confirms them)."""
    # Locked: two people entering the same source at once take turns, and the second finds the first's entry.
    db.session.scalar(select(Application.id).where(Application.id == application.id).with_for_update())
    members = check_can_enter(application, source)
    errors: dict = {}
    records = {str(member.person_id): _records(member, source, form, rows, errors) for member in members}
    document = _document(form, upload, errors)
    if form.get("attest") != "yes":
        errors["attest"] = _l("Confirm that you have read these records from the document.")
    if errors:
        raise ManualEntryRefused(_l("The records were not saved. Correct the fields marked below."), errors=errors)
    entry = ManualEntry(application_id=application.id, source=source, records=records, attested=True,
                        status=E.pending, entered_by_id=user.id, entered_at=utcnow(), **document)
    db.session.add(entry)
    db.session.flush()
    audit.record("manual_record.entered", "application", application.id,
                 {"entry": entry.id, "source": source, "members": len(records),
                  "records": sum(len(items) for items in records.values()), "document_type": entry.document_type,
                  "document_number": entry.document_number, "document_date": entry.document_date.isoformat(),
                  "upload": entry.document_name is not None}, actor=user)
    return entry


def confirm(entry: ManualEntry, user) -> ManualEntry:
    """A second person confirms: the records become data pulls marked manual and the collection goes on."""
    application = _locked(entry)
    if entry.entered_by_id == user.id:
        audit.record("manual_record.self_confirmation_refused", "application", application.id,
                     {"entry": entry.id, "source": entry.source}, actor=user)
        raise ManualEntryRefused(_l("You entered these records: another staff member must confirm them."),
                                 keep=True)
    if application.status is not S.manual_verification:
        raise ManualEntryRefused(_l("The application no longer waits for manual verification: these records "
                                    "cannot be confirmed."))
    still_missing = {member.person_id for member in missing_members(application, entry.source)}
    if not {int(person_id) for person_id in entry.records} <= still_missing:
        raise ManualEntryRefused(_l("The source has answered since these records were entered: they are no longer "
                                    "needed. Reject them."))
    entry.status, entry.decided_by_id, entry.decided_at = E.confirmed, user.id, utcnow()
    db.session.add_all(
        DataPull(application_id=application.id, person_id=int(person_id), source=entry.source,
                 status=PullStatus.ok if items else PullStatus.not_found, latency_ms=0, attempts=0,
                 payload=items, manual_entry_id=entry.id)
        for person_id, items in entry.records.items())
    db.session.flush()
    audit.record("manual_record.confirmed", "application", application.id,
                 {"entry": entry.id, "source": entry.source, "entered_by": entry.entered_by_id}, actor=user)
    if not missing_sources(application):
        status_machine.transition(application, S.collecting, user, note=f"entered by hand: {entry.source}")
        collection.finish(application, user)
    return entry


def reject(entry: ManualEntry, user, reason: str = "") -> ManualEntry:
    """The second person (or the one who entered them) discards pending records; nothing of them counts."""
    application = _locked(entry)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ManualEntryRefused(errors={"reason": lazy_ngettext("Keep the reason to %(num)d character or fewer.",
                                                                 "Keep the reason to %(num)d characters or fewer.",
                                                                 500)})
    entry.status, entry.decided_by_id, entry.decided_at = E.rejected, user.id, utcnow()
    entry.rejection_reason = reason or None
    audit.record("manual_record.rejected", "application", application.id,
                 {"entry": entry.id, "source": entry.source, "entered_by": entry.entered_by_id,
                  "reason": entry.rejection_reason}, actor=user)
    return entry


def _locked(entry: ManualEntry) -> Application:
    """The application locked (two confirmations at once take turns), and the entry still pending."""
    application = db.session.scalar(select(Application).where(Application.id == entry.application_id)
                                     .with_for_update())
    db.session.refresh(entry)
    if entry.status is not E.pending:
        raise ManualEntryRefused(_l("These records have already been confirmed or rejected."))
    return application


# --- reading the form ---------------------------------------------------------------------------------------------


def _records(member: ApplicationMember, source: str, form, rows: int, errors: dict) -> list[dict]:
    pin = member.person.pin
    found = []
    for kind in record_kinds(source):
        fields = fields_of(kind, source)
        for row in range(rows_for(kind, rows)):
            prefix = field_name(member.person_id, kind, row)
            raw = {field.name: (form.get(prefix + field.name) or "").strip() for field in fields}
            if not any(raw.values()):
                continue  # a row left empty (a default such as the currency is filled in only for a used row)
            record = _record(kind, pin, fields, raw, prefix, errors)
            if record is not None:
                found.append(canonical.to_json(record))
    return found


def _record(kind: str, pin: str, fields: list[Field], raw: dict, prefix: str, errors: dict):
    values, ok = {}, True
    for field in fields:
        text = raw[field.name] or field.default
        if not text:
            if field.required:
                errors[prefix + field.name] = _l("Required.")
                ok = False
            else:
                values[field.name] = None
            continue
        try:
            values[field.name] = _value(field, text)
        except ValueError as problem:
            errors[prefix + field.name] = problem.args[0]
            ok = False
    if not ok:
        return None
    owner = "owner_pin" if "owner_pin" in {item.name for item in dataclasses.fields(canonical.KINDS[kind])} else "pin"
    try:
        record = canonical.KINDS[kind](**{owner: pin}, **values)
        record.check()
    except (canonical.InvalidRecord, TypeError):
        errors[prefix] = _l("This row does not make a valid record: check its values.")
        return None
    return record


def _value(field: Field, text: str):
    """The typed text as the record's value; a ValueError carries the reader's message."""
    if len(text) > MAX_TEXT:
        raise ValueError(_too_long(MAX_TEXT))
    if field.type == "choice":
        if text not in field.choices:
            raise ValueError(_l("Choose one of the values offered."))
        return text
    if field.type == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(_l("Enter a date as YYYY-MM-DD.")) from None
    if field.type == "month":
        if not _MONTH.match(text):
            raise ValueError(_l("Enter a month as YYYY-MM."))
        return text
    if field.type == "year":
        if not (text.isascii() and text.isdigit() and len(text) == 4):
            raise ValueError(_l("Enter a year of four digits."))
        return int(text)
    if field.type == "number":
        if not (text.isascii() and _NUMBER.match(text.replace(" ", ""))):
            raise ValueError(_l("Enter an amount of 0 or more, with at most two decimals."))
        return float(text.replace(" ", "").replace(",", "."))
    if field.type == "pin":
        if not (text.isascii() and text.isdigit() and len(text) == 14):
            raise ValueError(_l("A PIN has exactly 14 digits."))
        return text
    return text


def _too_long(limit: int):
    return lazy_ngettext("Keep it to %(num)d character or fewer.", "Keep it to %(num)d characters or fewer.", limit)


def _document(form, upload, errors: dict) -> dict:
    """The document the records were read from: type, number and date required; a scan optional."""
    kind = (form.get("document_type") or "").strip()
    number = (form.get("document_number") or "").strip()
    day = (form.get("document_date") or "").strip()
    if kind not in DOCUMENT_TYPES:
        errors["document_type"] = _l("Choose the type of the document.")
    if not number:
        errors["document_number"] = _l("Required.")
    elif len(number) > 64:
        errors["document_number"] = _too_long(64)
    try:
        issued = date.fromisoformat(day)
        if issued > local_today():
            errors["document_date"] = _l("The document cannot be dated in the future.")
    except ValueError:
        issued = None
        errors["document_date"] = _l("Enter a date as YYYY-MM-DD.")
    document = {"document_type": kind, "document_number": number, "document_date": issued,
                "document_name": None, "document_mime": None, "document_content": None}
    if upload is not None and upload.filename:
        extension = PurePath(upload.filename).suffix.lower().lstrip(".")
        content = upload.read(MAX_UPLOAD_BYTES + 1)
        if extension not in UPLOAD_TYPES:
            errors["document_file"] = _l("Attach a PDF, JPEG or PNG file.")
        elif len(content) > MAX_UPLOAD_BYTES:
            errors["document_file"] = _l("The file is larger than %(num)d MB.", num=MAX_UPLOAD_BYTES // 2 ** 20)
        elif not content:
            errors["document_file"] = _l("The file is empty.")
        else:
            name = secure_filename(upload.filename)[-200:] or f"document.{extension}"
            document.update(document_name=name, document_mime=UPLOAD_TYPES[extension], document_content=content)
    return document
