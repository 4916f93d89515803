"""An assessment's trace in plain words, for the application page: each rule, the values it saw, its conclusion.

Titles, labels, reasons and legal references (the act and the part of it) come from the pack in the reader's
language (uz, ru, en; ky for kg), so a policy change that adds a rule also brings its explanation.
"""

from __future__ import annotations

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from modules.means_test.models import Assessment, ManualEntry, ManualEntryStatus
from modules.registration.models import Person
from rules.evaluation import format_number, reason_message
from rules.pack import PackError, get_pack
from webapp.extensions import db


def latest_assessment(application_id: int) -> Assessment | None:
    return db.session.scalar(select(Assessment).where(Assessment.application_id == application_id)
                             .order_by(Assessment.id.desc()).limit(1))


def _language() -> str:
    return str(get_locale() or "en")


def explain(assessment: Assessment) -> dict:
    """Rules, programmes and members of the trace, worded for the page."""
    try:
        pack = get_pack(assessment.pack_id)
    except PackError:
        return {"rules": [], "programmes": [], "members": [], "pack": None, "by_hand": by_hand(assessment)}
    language = _language()
    rules = {rule.id: rule for rule in pack.rules}
    values = {**assessment.trace.get("values", {})}
    people = persons_seen(assessment)
    names = member_names(people)
    explained = []
    for item in assessment.trace.get("rules", []):
        rule = rules.get(item["rule"])
        seen = {**values, **item["values"]}
        concerned = [names.get(pin) or _masked(pin) for pin in item.get("members") or ()]
        message = reason_message(rule, seen, language) if rule and item["fired"] else None
        explained.append({
            "id": item["rule"], "fired": item["fired"], "reference": _reference(rule, item, language),
            "title": (rule.title.get(language) or rule.title.get("en")) if rule and rule.title else item["rule"],
            "seen": [(pack.label(name, language), _shown(value)) for name, value in item["values"].items()],
            "members": concerned,
            "message": " ".join(filter(None, (message, concerns(concerned) if item["fired"] else ""))) or None,
        })
    return {"rules": explained, "programmes": _programmes(pack, assessment, language),
            "members": _members(pack, assessment, language, people), "pack": pack, "by_hand": by_hand(assessment)}


def by_hand(assessment: Assessment) -> list[ManualEntry]:
    """The records entered by hand (and confirmed) that were part of the evidence when the decision was made."""
    return list(db.session.scalars(select(ManualEntry).where(
        ManualEntry.application_id == assessment.application_id, ManualEntry.status == ManualEntryStatus.confirmed,
        ManualEntry.decided_at <= assessment.created_at).order_by(ManualEntry.id)))


def concerns(people: list[str]) -> str:
    """Whom a reason is about, by name, with the right plural in the reader's language ("" for no one)."""
    if not people:
        return ""
    return ngettext("Concerns %(num)d member: %(names)s.", "Concerns %(num)d members: %(names)s.", len(people),
                    names=", ".join(people))


def persons_seen(assessment: Assessment) -> dict[str, Person]:
    """{PIN: person} for the members the assessment saw: the application's members first, then the person
    register for anyone no longer on the application."""
    people = {member.person.pin: member.person for member in assessment.application.members} \
        if assessment.application is not None else {}
    unknown = [row["pin"] for row in assessment.trace.get("members", []) if row["pin"] not in people]
    if unknown:
        people.update({person.pin: person for person in db.session.scalars(select(Person)
                                                                           .where(Person.pin.in_(unknown)))})
    return people


def member_names(people: dict[str, Person]) -> dict[str, str]:
    """{PIN: "Full Name (PIN …1234)"}: a member named in a reason, the PIN shortened to its last digits."""
    return {pin: _("%(name)s (PIN …%(digits)s)", name=person.full_name, digits=pin[-4:])
            for pin, person in people.items()}


def _masked(pin: str) -> str:
    return _("PIN …%(digits)s", digits=pin[-4:])


def _reference(declared, item: dict, language: str) -> dict | None:
    """The act and the part of it in the reader's language, as the pack cites them now; a rule the pack no longer
    has keeps the citation stored with the trace."""
    if declared is not None:
        reference = declared.reference
        return {"act": reference.act.title.get(language) or reference.act.title["en"],
                "part": reference.part.get(language) or reference.part.get("en", ""), "url": reference.url}
    stored = item.get("legal")
    return {"act": stored, "part": "", "url": None} if stored else None


def _programmes(pack, assessment: Assessment, language: str) -> list[dict]:
    declared = {p.code: p for p in pack.programmes}
    shown = []
    for item in assessment.trace.get("programmes", []):
        programme = declared.get(item["code"])
        name = (programme.name.get(language) or programme.name.get("en")) if programme else None
        shown.append({"name": name or item["code"], "eligible": item["eligible"],
                      "amount": format_number(item["monthly_amount"]), "months": item["months"],
                      "reference": _reference(programme, {}, language)})
    return shown


def _members(pack, assessment: Assessment, language: str, people: dict[str, Person]) -> dict:
    """The members table of the trace: each member by name (the PIN beside it), then the values the rules saw."""
    rows = assessment.trace.get("members", [])
    shown = [name for name in ("age", "working_age", "able_bodied", "without_income", "exempt")
             if rows and name in rows[0]]
    return {"columns": [pack.label(name, language) for name in shown],
            "rows": [{"name": people[row["pin"]].full_name if row["pin"] in people else "", "pin": row["pin"],
                      "cells": [_shown(row[name]) for name in shown]} for row in rows]}


def _shown(value) -> str:
    """A traced value as a reader sees it: yes/no in their language, numbers grouped."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return format_number(value)
