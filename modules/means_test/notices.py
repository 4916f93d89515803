"""The decision SMS: eligible with programmes and amounts, or ineligible with the main reason, in the
applicant's language. One per application (the dedupe key), however often the job or the signal runs."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from modules.means_test.models import Assessment, Decision
from modules.registration.models import Application, Purpose
from rules.evaluation import format_number, reason_message
from rules.pack import get_pack
from webapp import audit, signals

SMS_LANGUAGES = ("uz", "ru", "en", "ky")


def decision_text(application: Application, assessment: Assessment, language: str) -> str:
    pack = get_pack(assessment.pack_id)
    with force_locale(language if language in ("uz", "ru", "en") else "ru"):
        if assessment.decision is Decision.eligible:
            lines = [_("%(programme)s: %(amount)s %(currency)s a month for %(months)s months",
                       programme=_programme_name(pack, item["code"], language),
                       amount=format_number(item["monthly_amount"]), currency=pack.currency, months=item["months"])
                     for item in assessment.programmes]
            return _("Application %(reference)s: you are eligible. %(programmes)s.",
                     reference=application.reference, programmes="; ".join(lines))
        return _("Application %(reference)s: you are not eligible. Reason: %(reason)s",
                 reference=application.reference, reason=_main_reason(pack, assessment, language))


def _programme_name(pack, code: str, language: str) -> str:
    for programme in pack.programmes:
        if programme.code == code:
            return programme.name.get(language) or programme.name.get("en") or code
    return code


def _main_reason(pack, assessment: Assessment, language: str) -> str:
    """The first rule that fired, in pack order (packs list the weightiest rule first), in the language."""
    first = assessment.reasons[0]["rule"]
    rule = next((rule for rule in pack.rules if rule.id == first), None)
    if rule is None:
        return assessment.reasons[0]["message"]
    values = {**assessment.trace.get("values", {}), **_rule_values(assessment, first)}
    return reason_message(rule, values, language)


def _rule_values(assessment: Assessment, rule_id: str) -> dict:
    for item in assessment.trace.get("rules", []):
        if item["rule"] == rule_id:
            return item["values"]
    return {}


@signals.application_decided.connect
def _notify_decision(application: Application, assessment: Assessment, actor=None, **_extra):
    from modules.notifications.operations import queue_sms

    if application.purpose is not Purpose.claim:
        return  # the citizen hears of a re-assessment from its case, once a person confirms what follows
    language = application.language if application.language in SMS_LANGUAGES else "uz"
    try:
        queue_sms(f"application:{application.id}:decision", application.phone,
                  decision_text(application, assessment, language), language, "decision",
                  application_id=application.id)
    except ValueError as refusal:  # e.g. a phone number no gateway can reach: the decision stands, staff see why
        audit.record("notification.refused", "application", application.id, {"reason": str(refusal)}, actor=actor)
