"""Words that templates translate from data (`_(status.value)`): marked here so that extraction finds them."""

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

ENUM_LABELS = [
    # application statuses
    _l("draft"), _l("submitted"), _l("collecting"), _l("collected"), _l("manual_verification"), _l("assessed"),
    _l("decided"), _l("withdrawn"),
    # relations
    _l("head"), _l("spouse"), _l("child"), _l("parent"), _l("other"),
    # channels
    _l("office"), _l("mahalla"), _l("single_window"), _l("portal"),
    # roles
    _l("admin"), _l("registrar"), _l("mahalla_worker"), _l("social_worker"), _l("finance_maker"),
    _l("finance_checker"), _l("analyst"), _l("auditor"),
    # means-test decisions
    _l("eligible"), _l("ineligible"),
    # job statuses
    _l("queued"), _l("running"), _l("finished"), _l("failed"),
    # error page titles
    _l("Bad request"), _l("Sign-in required"), _l("Not allowed"), _l("Not found"), _l("Method not allowed"),
    _l("Conflict"), _l("File too large"), _l("Error"),
    # data collection: states of a source, statuses of a pull, record words
    _l("answered"), _l("failed"), _l("pending"), _l("waiting"), _l("ok"), _l("not_found"), _l("error"),
    _l("timeout"), _l("salary"), _l("entrepreneurial"), _l("pension"), _l("benefit"), _l("unemployment_benefit"),
    _l("public_works"), _l("alimony_received"), _l("alimony_paid"), _l("property"), _l("securities"),
    _l("passenger"), _l("truck"), _l("motorcycle"), _l("residential"), _l("non_residential"), _l("student"),
    _l("military_service"), _l("detention"), _l("iron_notebook"), _l("employment_registered"),
    _l("registered_unemployed"), _l("disability"), _l("birth"), _l("death"), _l("marriage"), _l("divorce"),
    # payrolls, their lines, exclusion reasons of the pre-payroll checks, fund requests, statement exceptions
    _l("checked"), _l("approved"), _l("sent"), _l("reconciled"), _l("cancelled"), _l("included"), _l("excluded"),
    _l("paid"), _l("returned"), _l("deceased"), _l("two_households"), _l("incompatible_programmes"),
    _l("enrolment_not_active"), _l("no_bank_account"), _l("amount_mismatch"), _l("child_aged_out"),
    _l("confirmed"), _l("refused"), _l("unmatched"), _l("already_settled"), _l("unclassified"),
    # a payroll's timeline (audit actions payroll.*)
    _l("generated"), _l("approval_refused"), _l("funds_confirmed"), _l("funds_refused"), _l("funds_pending"),
    # cases: kinds, channels, statuses, decisions; re-assessments: purposes and outcomes
    _l("enquiry"), _l("update"), _l("alert"), _l("grievance"), _l("appeal"), _l("phone"), _l("sms"), _l("api"),
    _l("event"), _l("new"), _l("assigned"), _l("in_progress"), _l("waiting_citizen"), _l("waiting_other"),
    _l("resolved"), _l("upheld"), _l("partially_upheld"), _l("rejected"), _l("redirected"), _l("referred"),
    _l("claim"), _l("change"), _l("recalculated"), _l("overturned"), _l("stands"), _l("discarded"),
    # the portal's sign-in: outcomes and reasons of refusal
    _l("sent"), _l("no_match"), _l("pin_limit"), _l("phone_limit"), _l("address_limit"), _l("code_dead"),
    _l("wrong_code"), _l("unknown_person"), _l("bad_state"), _l("bad_token"), _l("provider_refused"),
    _l("unreachable"), _l("bad_answer"), _l("sms_code"), _l("oidc"),
    # why a certificate was revoked
    _l("superseded"), _l("enrolments_ended"), _l("member_died"),
    # enrolments and bank accounts
    _l("active"), _l("suspended"), _l("ended"), _l("requested"), _l("opened"), _l("card_issued"), _l("closed"),
    # the thirteen sources (connectors/catalog.py)
    _l("Ministry of Internal Affairs — population register"), _l("Ministry of Justice — civil registry (ZAGS)"),
    _l("State Tax Committee — salaries and entrepreneurial income"), _l("Pension Fund — pensions and benefits"),
    _l("Cadastre Agency — real estate"), _l("Ministry of Internal Affairs — vehicle register"),
    _l("Ministry of Internal Affairs — penitentiary system"),
    _l("Ministry of Employment — unemployment, public works, employment registration"),
    _l("Ministry of Higher Education — students"), _l("Supreme Court — alimony paid and received"),
    _l("Ministry of Health — disability register"), _l("Central Securities Depository — holdings"),
    _l("Mahalla and Family Ministry — local registers (Iron Notebook)"),
]

# What each audited action is called on the audit trail. Codes written as f-strings (payroll.<status>,
# bank_account.<status>, payroll.funds_<status>) are listed with every value they can take.
AUDIT_ACTIONS = {
    "api_token.issued": _l("API token issued"),
    "api_token.revoked": _l("API token revoked"),
    "manual_record.entered": _l("Records entered by hand from a document"),
    "manual_record.confirmed": _l("Records entered by hand confirmed"),
    "manual_record.rejected": _l("Records entered by hand rejected"),
    "manual_record.self_confirmation_refused": _l("Confirmation of one's own records refused"),
    "manual_record.document_viewed": _l("Document behind records entered by hand viewed"),
    "application.created": _l("Application registered"),
    "application.status_changed": _l("Application status changed"),
    "application.collection_resumed": _l("Data collection resumed"),
    "applications.listed": _l("Applications listed"),
    "households.listed": _l("Households listed"),
    "household.visit_recorded": _l("Household visit recorded"),
    "household.visit_attachment_viewed": _l("Photo or document of a visit opened"),
    "case.opened": _l("Case opened"),
    "case.assigned": _l("Case assigned"),
    "case.status_changed": _l("Case status changed"),
    "case.escalated": _l("Case escalated"),
    "case.alert_raised": _l("Alert raised from a registry event"),
    "case.note_added": _l("Entry added to a case"),
    "case.reassessment_started": _l("Household re-assessment started from a case"),
    "case.reassessment_ready": _l("New assessment ready for confirmation"),
    "case.reassessment_confirmed": _l("Re-assessment confirmed"),
    "case.reassessment_discarded": _l("Re-assessment discarded"),
    "household.members_changed": _l("Household members changed"),
    "report.frozen": _l("Monthly return frozen"),
    "report.downloaded": _l("Monthly return downloaded"),
    "adhoc_report.exported": _l("Ad hoc report exported"),
    "adhoc_report.saved": _l("Ad hoc report saved"),
    "adhoc_report.deleted": _l("Saved ad hoc report deleted"),
    "certificate.issued": _l("Low-income certificate issued"),
    "certificate.downloaded": _l("Low-income certificate downloaded"),
    "certificate.revoked": _l("Low-income certificate revoked"),
    "certificate.key_created": _l("Certificate signing key created"),
    "dci.client_created": _l("Registry client registered"),
    "dci.records_served": _l("Records served to a registry client"),
    "dci.subscription_created": _l("Registry client subscribed to events"),
    "dci.subscription_ended": _l("Registry client unsubscribed"),
    "certificate.key_retired": _l("Certificate signing key retired"),
    "portal.viewed": _l("Portal page viewed by the citizen"),
    "portal.case_opened": _l("Appeal or complaint made on the portal"),
    "portal.certificate_downloaded": _l("Certificate downloaded on the portal"),
    "citizen.signed_in": _l("Citizen signed in to the portal"),
    "citizen.signed_out": _l("Citizen signed out of the portal"),
    "citizen.code_requested": _l("Sign-in code asked for on the portal"),
    "citizen.code_refused": _l("Sign-in code refused: too many asked for"),
    "citizen.sign_in_failed": _l("Citizen's sign-in failed"),
    "enrolment.shortened": _l("Enrolment ends earlier"),
    "enrolment.arrears_owed": _l("Owed months recorded"),
    "applications.exported": _l("Applications exported"),
    "assessment.decided": _l("Means test decided"),
    "assessment.failed": _l("Means test failed"),
    "bank_account.requested": _l("Bank account requested"),
    "bank_account.opened": _l("Bank account opened"),
    "bank_account.card_issued": _l("Bank card issued"),
    "bank_account.closed": _l("Bank account closed"),
    "budget_return.recorded": _l("Return to the budget recorded"),
    "enrolment.created": _l("Enrolled in a programme"),
    "enrolment.refused": _l("Enrolment refused"),
    "enrolment.suspended": _l("Enrolment suspended"),
    "enrolment.resumed": _l("Enrolment resumed"),
    "enrolment.ended": _l("Enrolment ended"),
    "household.viewed": _l("Household viewed"),
    "notification.queued": _l("SMS queued"),
    "notification.refused": _l("SMS refused"),
    "notifications.listed": _l("SMS notices listed"),
    "payroll.generated": _l("Payroll generated"),
    "payroll.draft": _l("Payroll back to draft"),
    "payroll.checked": _l("Payroll checked"),
    "payroll.approved": _l("Payroll approved"),
    "payroll.approval_refused": _l("Payroll approval refused"),
    "payroll.sent": _l("Payroll sent to the bank"),
    "payroll.reconciled": _l("Payroll reconciled"),
    "payroll.cancelled": _l("Payroll cancelled"),
    "payroll.funds_pending": _l("Funds requested from the treasury"),
    "payroll.funds_confirmed": _l("Funds confirmed by the treasury"),
    "payroll.funds_refused": _l("Funds refused by the treasury"),
    "payroll.viewed": _l("Payroll viewed"),
    "payroll.file_downloaded": _l("Payment file downloaded"),
    "person.death_recorded": _l("Death recorded by the civil registry"),
    "person.birth_notified": _l("Birth notified by the civil registry"),
    "policy.simulation_exported": _l("Policy simulation exported"),
    "statement.import": _l("Bank statement imported"),
    "statement.exception_resolved": _l("Statement exception resolved"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.password_reset": _l("Password reset"),
    "user.signed_in": _l("Signed in"),
    "user.signed_out": _l("Signed out"),
    "user.sign_in_failed": _l("Sign-in failed"),
    "user.sign_in_refused_locked": _l("Sign-in refused: account locked"),
    "user.unlocked": _l("Account unlocked"),
    "user.totp_enabled": _l("Authenticator set up"),
    "user.totp_locked": _l("Authenticator code entry locked"),
    "user.totp_reset": _l("Authenticator reset"),
    "audit.rechained": _l("Audit trail keyed"),
}

# What the audited objects are.
OBJECT_TYPES = {
    "application": _l("Application"), "audit": _l("Audit trail"), "case": _l("Case"),
    "bank_account": _l("Bank account"), "budget_return": _l("Return to the budget"),
    "enrolment": _l("Enrolment"), "household": _l("Household"), "notification": _l("SMS notice"),
    "payroll": _l("Payroll"), "person": _l("Person"), "rule_pack": _l("Rule pack"),
    "statement_exception": _l("Statement exception"), "statement_import": _l("Bank statement"), "user": _l("User"),
    "citizen_sign_in_code": _l("Sign-in code"), "certificate": _l("Low-income certificate"),
    "certificate_key": _l("Certificate signing key"), "monthly_return": _l("Monthly return"),
    "adhoc_report": _l("Ad hoc report"), "saved_report": _l("Saved ad hoc report"),
    "dci_client": _l("Registry client"),
}

# The names of the details an audit event keeps.
DETAIL_NAMES = {
    "entry": _l("Entry"), "records": _l("Records"), "document_type": _l("Type of document"),
    "document_number": _l("Document number"), "document_date": _l("Document date"), "upload": _l("Scan attached"),
    "entered_by": _l("Entered by"), "expires_at": _l("Expires"), "token": _l("Token"),
    "visit_id": _l("Visit"), "case_id": _l("Case"), "visited_on": _l("Date of the visit"),
    "facts": _l("Facts checked"), "contradicted": _l("Facts contradicted"), "attachment": _l("Attachment"),
    "digest": _l("File fingerprint (SHA-256)"), "matched": _l("Lines matched"), "paid": _l("Paid"),
    "failed": _l("Failed"), "returned": _l("Returned"), "unmatched": _l("Not matched"), "pending": _l("Pending"),
    "event_id": _l("Entry"), "public": _l("Shown to the citizen"), "rule": _l("Rule"),
    "source_key": _l("Event"), "event": _l("Event details"), "automatic": _l("Automatic"),
    "assignee_id": _l("Assigned to"),
    "failures": _l("Wrong attempts"), "locked_until": _l("Locked until"),
    "had_authenticator": _l("Had an authenticator"), "legacy_head": _l("Last hash before keying"),
    "scheme": _l("Scheme"), "legacy_problem": _l("Problem found before keying"),
    "added": _l("Lines added"), "amount": _l("Amount"), "application_id": _l("Application"), "areas": _l("Areas"),
    "assessment": _l("Assessment"), "bank_code": _l("Bank"), "beneficiary": _l("Beneficiary"),
    "birth_date": _l("Date of birth"), "changes": _l("Changes"), "channel": _l("Channel"),
    "death_date": _l("Date of death"), "decision": _l("Decision"), "dedupe_key": _l("Deduplication key"),
    "draft": _l("Draft"), "end_to_end_id": _l("EndToEndId"), "error": _l("Error"), "filename": _l("File"),
    "format": _l("Format"), "from": _l("From"), "fund_request": _l("Fund request"), "household_id": _l("Household"),
    "households": _l("Households"), "ids": _l("Records"), "kind": _l("Kind"), "language": _l("Language"),
    "lines": _l("Lines"), "members": _l("Members"), "message_id": _l("Message"), "months": _l("Months"),
    "name": _l("Name"), "national_scope": _l("Whole country"), "note": _l("Note"), "pack": _l("Rule pack"),
    "pack_version": _l("Rules in force"), "page": _l("Page"), "payrolls": _l("Payrolls"), "period": _l("Month"),
    "person": _l("Person"), "pin": _l("PIN"), "programme": _l("Programme"), "reason": _l("Reason"),
    "reference": _l("Reference"), "region": _l("Region"), "request_id": _l("Request"), "role": _l("Role"),
    "searched": _l("Search"), "source": _l("Source"), "status": _l("Status"), "template": _l("Message template"),
    "to": _l("To"), "total": _l("Total"), "username": _l("Username"), "active": _l("Active"),
    "full_name": _l("Full name"), "filters": _l("Filters"), "rows": _l("Rows"), "job_id": _l("Job"),
    "sha256": _l("Checksum (SHA-256)"), "treasury_reference": _l("Treasury reference"),
    "excluded": _l("Lines excluded, by reason"),
    "joined": _l("Joined"), "left": _l("Left"), "date": _l("Date"), "reassessment": _l("Re-assessment"),
    "purpose": _l("Purpose"), "refreshed": _l("Registries asked again"), "outcome": _l("Outcome"),
    "months_owed": _l("Months owed"), "period_end": _l("Period end"), "periods": _l("Months"),
    "arrears": _l("Owed months paid"), "area_id": _l("Area"), "category": _l("Category"),
    "tracking_number": _l("Tracking number"), "pin_digest": _l("PIN (keyed fingerprint)"),
    "provider": _l("Sign-in method"), "person_id": _l("Person"), "serial": _l("Serial number"),
    "household": _l("Household"), "programmes": _l("Programmes"), "valid_until": _l("Valid until"),
    "kid": _l("Key id"), "previous": _l("Previous certificate"),
    "client": _l("Registry client"), "client_id": _l("Client id"), "signatures": _l("Signature checks"),
    "callback_urls": _l("Callback addresses"), "fields": _l("Fields allowed"), "registry": _l("Registry"),
    "transaction_id": _l("Transaction"), "subscription": _l("Subscription code"),
    "event_type": _l("Event type"), "consent": _l("Consent"),
    "superseded_by": _l("Serial number of the replacement"), "version": _l("Version"),
    "code_version": _l("Code version"), "reconciled": _l("Reconciled"), "differences": _l("Differences"),
    "publication": _l("For publication"),
    "indicators": _l("Indicators"), "dimensions": _l("Breakdown"), "new": _l("New"), "district": _l("District"),
    "sex": _l("Sex"), "age_band": _l("Age band"), "household_size": _l("Household size"),
    "moving": _l("Moves with time"),
}

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def audit_action(code: str) -> str:
    """An audited action in words; a code nobody named yet still reads as a sentence around it."""
    label = AUDIT_ACTIONS.get(code)
    return str(label) if label is not None else _("Other event (%(code)s)", code=code)


def object_label(object_type: str | None, object_id: str | None = None) -> str:
    """"Payroll 7": an audited object's kind in words and its id."""
    if not object_type:
        return object_id or ""
    kind = OBJECT_TYPES.get(object_type)
    kind = str(kind) if kind is not None else _("Other object (%(type)s)", type=object_type)
    return f"{kind} {object_id}" if object_id else kind


def detail_name(key: str) -> str:
    label = DETAIL_NAMES.get(key)
    return str(label) if label is not None else _("Other detail (%(name)s)", name=key)


def detail_value(value) -> str:
    """A detail's value in words: codes translated (statuses, roles), yes/no, lists joined, the rest as data."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "—"
    if isinstance(value, str):
        return _(value) if _CODE.match(value) else value
    if isinstance(value, list | tuple):
        return ", ".join(detail_value(item) for item in value)
    if isinstance(value, dict):
        # Keys of a nested detail are codes too (the exclusion reasons of a payroll's checks, by count).
        return "; ".join(f"{detail_name(key) if key in DETAIL_NAMES else detail_value(key)}: {detail_value(item)}"
                         for key, item in value.items())
    return str(value)


def _choices(table: dict, label, chosen: str | None) -> list[tuple[str, str]]:
    """(code, words) options of a filter in the reader's alphabetical order; a code chosen in the address but
    not listed here is kept, so that the filter shows what it filters by."""
    codes = set(table) | ({chosen} if chosen else set())
    return sorted(((code, label(code)) for code in codes), key=lambda item: item[1].lower())


def audit_action_choices(chosen: str | None = None) -> list[tuple[str, str]]:
    return _choices(AUDIT_ACTIONS, audit_action, chosen)


def object_type_choices(chosen: str | None = None) -> list[tuple[str, str]]:
    return _choices(OBJECT_TYPES, object_label, chosen)


def register(app) -> None:
    for function in (audit_action, object_label, detail_name, detail_value, audit_action_choices,
                     object_type_choices):
        app.add_template_global(function)


# The filters of list pages (query-string arguments), named when one cannot be read.
FILTER_NAMES = {
    "page": _l("page"), "per_page": _l("rows per page"), "status": _l("status"), "area": _l("area"),
    "programme": _l("programme"), "date_from": _l("from"), "date_to": _l("to"), "overdue": _l("overdue"),
    "q": _l("search"), "region": _l("region"), "period": _l("month"), "kind": _l("kind"), "action": _l("action"),
    "actor": _l("username"), "object_type": _l("object type"), "object_id": _l("object ID"),
}


def filter_name(name: str) -> str:
    label = FILTER_NAMES.get(name)
    return str(label) if label is not None else _("another filter")
