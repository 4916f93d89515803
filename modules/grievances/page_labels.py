"""Words the case pages show for the cases' codes (statuses, kinds, channels, decisions, events, SLA)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "new": _l("New"),
    "assigned": _l("Assigned"),
    "in_progress": _l("In progress"),
    "waiting_citizen": _l("Waiting for the citizen"),
    "waiting_other": _l("Waiting for another body"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
KIND = {
    "enquiry": _l("Enquiry"),
    "update": _l("Update of circumstances"),
    "alert": _l("Alert"),
    "grievance": _l("Grievance"),
    "appeal": _l("Appeal"),
}
CHANNEL = {
    "office": _l("At the office"),
    "mahalla": _l("Through the mahalla"),
    "phone": _l("By phone"),
    "sms": _l("By SMS"),
    "portal": _l("Through the portal"),
    "api": _l("From another system"),
    "event": _l("Raised by an event"),
}
DECISION = {
    "upheld": _l("Upheld"),
    "partially_upheld": _l("Partially upheld"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn by the citizen"),
    "redirected": _l("Redirected to another body"),
    "referred": _l("Referred to a case"),
}
EVENT = {
    "note": _l("Note"),
    "confidential_note": _l("Confidential note"),
    "call": _l("Call"),
    "visit": _l("Visit"),
    "document": _l("Document"),
    "sms": _l("SMS sent"),
    "status_change": _l("Status changed"),
    "assignment": _l("Assigned"),
    "escalation": _l("Escalated"),
}
SLA = {
    "on_track": _l("On track"),
    "at_risk": _l("At risk"),
    "breached": _l("Breached"),
}


def word(table: dict, code) -> str:
    """The word for a code; a code the table does not know yet is shown as a dash rather than as itself."""
    value = getattr(code, "value", code)
    return str(table[value]) if value in table else "—"
