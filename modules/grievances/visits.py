"""Household visits recorded by a worker, often from a phone: who was met, what was found, which facts were
confirmed or contradicted, and a photo or document. No commit here.

Audited: "household.visit_recorded" (a visit saved), "household.visit_attachment_viewed" (its photo or document
opened). A visit linked to a case adds a "visit" entry to the case's timeline (operations.add_event).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from marshmallow import EXCLUDE, ValidationError, fields, validates
from sqlalchemy import select
from werkzeug.utils import secure_filename

from modules.grievances import operations, profile
from modules.grievances.models import CaseEventKind, HouseholdVisit
from modules.registration.schemas import LocalizedSchema
from webapp import audit
from webapp.extensions import db
from webapp.guard import RowId
from webapp.timeutil import local_today

MET_MAX = 200
FINDINGS_MAX = 4000
FACT_MAX = 200
NOTE_MAX = 500
FACTS_MAX = 20
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# The type is read from the first bytes of the file, never from its name or the browser's word for it.
SIGNATURES = ((b"%PDF-", "application/pdf", "pdf"), (b"\xff\xd8\xff", "image/jpeg", "jpg"),
              (b"\x89PNG\r\n\x1a\n", "image/png", "png"))
_REQUIRED = {"required": _l("This field is required."), "null": _l("This field is required.")}


def _too_long(limit: int):
    return lazy_ngettext("Keep it to %(num)d character or fewer.", "Keep it to %(num)d characters or fewer.", limit)


def _at_most(limit: int):
    """A length check whose message is put in the reader's language when it is raised, not when it is defined."""
    def check(value) -> None:
        if len(value) > limit:
            raise ValidationError(str(_too_long(limit)))
    return check


def _text(limit: int, required: bool = True):
    return fields.String(required=required, error_messages=_REQUIRED, validate=_at_most(limit))


def _few_facts(value) -> None:
    if len(value) > FACTS_MAX:
        raise ValidationError(str(lazy_ngettext("At most %(num)d fact.", "At most %(num)d facts.", FACTS_MAX)))


class FactArgs(LocalizedSchema):
    """One fact checked during the visit: what, whether it was confirmed, and a note."""

    class Meta:
        unknown = EXCLUDE

    fact = _text(FACT_MAX)
    confirmed = fields.Boolean(required=True, error_messages=_REQUIRED)
    note = _text(NOTE_MAX, required=False)


class VisitArgs(LocalizedSchema):
    class Meta:
        unknown = EXCLUDE

    household_id = RowId(required=True, error_messages=_REQUIRED)
    case_id = RowId(load_default=None, allow_none=True)
    visited_on = fields.Date(required=True, error_messages={**_REQUIRED, "invalid": _l("Enter a date as YYYY-MM-DD.")})
    met = _text(MET_MAX)
    findings = _text(FINDINGS_MAX)
    facts = fields.List(fields.Nested(FactArgs), load_default=list, validate=_few_facts)

    @validates("visited_on")
    def _not_in_future(self, value, **kwargs):
        if value > local_today():
            raise ValidationError(_("A visit cannot be dated in the future."))

    @validates("met")
    def _met_not_blank(self, value, **kwargs):
        if not value.strip():
            raise ValidationError(_("This field is required."))

    @validates("findings")
    def _findings_not_blank(self, value, **kwargs):
        if not value.strip():
            raise ValidationError(_("This field is required."))


def read_attachment(upload) -> dict | None:
    """The uploaded photo or document as {name, mime, content}; None when nothing was attached. A file that is not
    a PDF, JPEG or PNG by its content, is empty or is larger than 5 MB is refused (ValidationError on "attachment")."""
    if upload is None or not getattr(upload, "filename", ""):
        return None
    content = upload.read(MAX_ATTACHMENT_BYTES + 1)
    if not content:
        raise ValidationError({"attachment": [_("The file is empty.")]})
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"attachment": [_("The file is larger than %(num)d MB.",
                                                num=MAX_ATTACHMENT_BYTES // 2 ** 20)]})
    found = next(((mime, extension) for magic, mime, extension in SIGNATURES if content.startswith(magic)), None)
    if found is None:
        raise ValidationError({"attachment": [_("Attach a photo (JPEG or PNG) or a PDF document.")]})
    mime, extension = found
    stem = secure_filename(upload.filename).rsplit(".", 1)[0][:150] or "visit"
    return {"name": f"{stem}.{extension}", "mime": mime, "content": content}


def record_visit(data: dict, actor, upload=None) -> HouseholdVisit:
    """Validate `data` (VisitArgs), check the household (and the case) are in the actor's areas, save the visit
    with its attachment, audit it, and note it on the case's timeline when linked to a case."""
    args = VisitArgs().load(data)
    household = profile.get_household(actor, args["household_id"])
    if household is None:
        raise ValidationError({"household_id": [_("No such household in your areas.")]})
    case = None
    if args.get("case_id"):
        case = operations.get_case(actor, args["case_id"])
        if case is None or case.household_id not in (None, household.id):
            raise ValidationError({"case_id": [_("No such case for this household in your areas.")]})
    attachment = read_attachment(upload)
    facts = [{"fact": item["fact"].strip(), "confirmed": bool(item["confirmed"]),
              "note": (item.get("note") or "").strip()} for item in args["facts"] if item["fact"].strip()]
    visit = HouseholdVisit(household_id=household.id, case_id=case.id if case else None,
                           visited_on=args["visited_on"], visitor_id=actor.id, met=args["met"].strip(),
                           findings=args["findings"].strip(), facts=facts)
    if attachment:
        visit.attachment_name, visit.attachment_mime = attachment["name"], attachment["mime"]
        visit.attachment_content = attachment["content"]
    db.session.add(visit)
    db.session.flush()
    audit.record("household.visit_recorded", "household", household.id,
                 {"visit_id": visit.id, "case_id": visit.case_id, "visited_on": visit.visited_on.isoformat(),
                  "facts": len(facts), "contradicted": sum(not fact["confirmed"] for fact in facts),
                  "attachment": visit.attachment_mime}, actor=actor)
    if case is not None:
        operations.add_event(case, CaseEventKind.visit, summary(visit), actor)
    return visit


def summary(visit: HouseholdVisit) -> str:
    """The visit as one timeline entry: the date, who was met, the findings, each fact ✓ confirmed or ✗ not."""
    lines = [f"{visit.visited_on:%d.%m.%Y} · {visit.met}", visit.findings]
    lines += [f"{'✓' if fact['confirmed'] else '✗'} {fact['fact']}" + (f" — {fact['note']}" if fact["note"] else "")
              for fact in visit.facts]
    return "\n".join(lines)


def visits_of_household(household_id: int) -> list[HouseholdVisit]:
    """A household's visits, latest first (the caller has checked the household is in the reader's areas)."""
    return list(db.session.scalars(select(HouseholdVisit).where(HouseholdVisit.household_id == household_id)
                                   .order_by(HouseholdVisit.visited_on.desc(), HouseholdVisit.id.desc())))


def visits_of_case(case_id: int) -> list[HouseholdVisit]:
    return list(db.session.scalars(select(HouseholdVisit).where(HouseholdVisit.case_id == case_id)
                                   .order_by(HouseholdVisit.visited_on.desc(), HouseholdVisit.id.desc())))


def get_visit(user, household_id: int, visit_id: int) -> HouseholdVisit | None:
    """A visit of a household in the user's areas; None otherwise."""
    if profile.get_household(user, household_id) is None:
        return None
    visit = db.session.get(HouseholdVisit, visit_id)
    return visit if visit is not None and visit.household_id == household_id else None


def record_attachment_view(visit: HouseholdVisit, actor) -> None:
    audit.record("household.visit_attachment_viewed", "household", visit.household_id, {"visit_id": visit.id},
                 actor=actor)
