"""An assessment's trace in plain words, for the application page: each rule, the values it saw, its conclusion.

Titles, labels, reasons and legal references (the act and the part of it) come from the pack in the reader's
language (uz, ru, en; ky for kg), so a policy change that adds a rule also brings its explanation.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from modules.means_test.models import Assessment
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
        return {"rules": [], "programmes": [], "members": [], "pack": None}
    language = _language()
    rules = {rule.id: rule for rule in pack.rules}
    values = {**assessment.trace.get("values", {})}
    explained = []
    for item in assessment.trace.get("rules", []):
        rule = rules.get(item["rule"])
        seen = {**values, **item["values"]}
        explained.append({
            "id": item["rule"], "fired": item["fired"], "reference": _reference(rule, item, language),
            "title": (rule.title.get(language) or rule.title.get("en")) if rule and rule.title else item["rule"],
            "seen": [(pack.label(name, language), _shown(value)) for name, value in item["values"].items()],
            "message": reason_message(rule, seen, language) if rule and item["fired"] else None,
        })
    return {"rules": explained, "programmes": _programmes(pack, assessment, language),
            "members": _members(pack, assessment, language), "pack": pack}


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


def _members(pack, assessment: Assessment, language: str) -> dict:
    rows = assessment.trace.get("members", [])
    shown = [name for name in ("age", "working_age", "able_bodied", "without_income", "exempt")
             if rows and name in rows[0]]
    return {"columns": [pack.label(name, language) for name in shown],
            "rows": [(row["pin"], [_shown(row[name]) for name in shown]) for row in rows]}


def _shown(value) -> str:
    """A traced value as a reader sees it: yes/no in their language, numbers grouped."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return format_number(value)
