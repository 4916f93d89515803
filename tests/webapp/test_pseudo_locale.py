"""Every word a user reads passes through the catalog.

The catalog is extracted afresh (so a new `_()` counts at once) and turned into a pseudo-locale in which each
literal part of every message is wrapped in ⟦…⟧ with accented letters, placeholders left outside the brackets.
Every page (each GET route, for each role, with an application decided and one waiting for a source, a checked
payroll, a simulation) and every API error is then read in that locale: whatever text is left once the
bracketed parts, the data the test created (names, PINs, codes, areas, the rule pack's own texts), numbers,
dates and punctuation are taken away did not pass through the catalog.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import uuid
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import get_domain
from sqlalchemy import String, Text, select

from connectors.catalog import SOURCES
from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from modules.means_test.assessment import assess
from modules.means_test.models import Assessment, DataPull, Decision, PullStatus
from modules.payments import checks, generation
from modules.payments import status as payroll_status
from modules.payments.models import PayrollStatus
from modules.registration import operations as registration
from modules.registration import status as application_status
from modules.registration.models import Application, ApplicationStatus
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp.auth.operations import issue_token
from webapp.extensions import db
from webapp.models import AuditEvent, Programme

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = "eo"  # a locale Babel knows (two plural forms) that the application has no catalog for
OPEN, CLOSE = "⟦", "⟧"
# Names that are never translated: the system's, and each language's own name in the language switch.
BRAND = ("SRSP", "Pseudo", "Oʻzbekcha", "O‘zbekcha", "Русский", "English", "Кыргызча")
ROLES = ("admin", "registrar", "finance_maker", "finance_checker", "analyst", "auditor", "social_worker")
# Routes that answer with something other than a page (files, JSON polled by scripts, the health check).
NOT_PAGES = {"static", "core.health", "core.job_status", "core.job_file", "payments.payroll_download",
             "means_test.policy_simulate_csv", "certificates.jwks", "certificates.status_list",
             "certificates.application_pdf", "portal.certificate", "reporting.report_download",
             "reporting.adhoc_export"}
# Columns whose values are codes the pages must put in words: never data to tolerate.
CODE_COLUMNS = {("audit_event", "action"), ("audit_event", "object_type"), ("application_event", "note"),
                ("application_event", "from_status"), ("application_event", "to_status"),
                ("data_pull", "source"), ("data_pull", "error"), ("payroll_line", "exclusion_reason")}

_ACCENTED = str.maketrans("aceinorsuyzACEINORSUYZ", "àçéîñöŕšûýžÀÇÉÎÑÖŔŠÛÝŽ")
# Kept as they are, outside the brackets: placeholders (their values are data or other messages) and markup.
_KEEP = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]|<[^>]*>|&#?\w+;")
_BRACKETED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
_WORD = re.compile(r"[^\W\d_]+")


def pseudo(text: str) -> str:
    """Each literal run of `text` bracketed and accented; placeholders and tags untouched."""
    pieces, position = [], 0
    for match in _KEEP.finditer(text):
        pieces.append(_wrap(text[position:match.start()]))
        pieces.append(match.group())
        position = match.end()
    pieces.append(_wrap(text[position:]))
    return "".join(pieces)


def _wrap(literal: str) -> str:
    return f"{OPEN}{literal.translate(_ACCENTED)}{CLOSE}" if literal.strip() else literal


def build_pseudo_catalog(directory: Path) -> int:
    """Extract the messages of the code as it is now and compile them as the pseudo-locale; returns how many."""
    pot = directory / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale=PSEUDO)
    for message in template:
        if not message.id:
            continue
        string = tuple(pseudo(text) for text in message.id) if message.pluralizable else pseudo(message.id)
        catalog.add(message.id, string, context=message.context)
    target = directory / PSEUDO / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return len(catalog)


@pytest.fixture(scope="module")
def pseudo_directory(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pseudo-translations")
    assert build_pseudo_catalog(directory) > 100
    return directory


@pytest.fixture
def pseudo_app(app, pseudo_directory, monkeypatch):
    """The app reading the pseudo catalog for the pseudo-locale, which the users of this test speak."""
    babel = app.extensions["babel"]
    monkeypatch.setattr(babel, "translation_directories", [*babel.translation_directories, str(pseudo_directory)])
    monkeypatch.setitem(app.config, "LANGUAGES", {**app.config["LANGUAGES"], PSEUDO: "Pseudo"})
    get_domain().cache.clear()
    yield app
    get_domain().cache.clear()


# --- reading what a user reads -----------------------------------------------------------------------------------

class _Reader(HTMLParser):
    """The text of a page a user reads: text nodes and the attributes shown as text."""

    SHOWN = {"title", "placeholder", "alt", "aria-label"}
    HIDDEN = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        self.texts.extend(value for name, value in attrs if name in self.SHOWN and value)
        if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.texts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.texts.append(data)


def page_texts(html: str) -> list[str]:
    reader = _Reader()
    reader.feed(html)
    return reader.texts


def json_texts(body: dict) -> list[str]:
    """The messages of an API error: "error" and every message under "errors" (field names are not shown)."""
    texts = [body["error"]] if isinstance(body.get("error"), str) else []

    def walk(value):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body.get("errors"))
    return texts


class Allowed:
    """Data shown as it is: every string the database holds (but codes the pages must word) and the packs' texts."""

    def __init__(self, extra=()):
        values = set(extra) | set(_database_strings()) | set(_pack_strings()) | set(BRAND)
        values = sorted((value.strip() for value in values if value and _WORD.search(value)), key=len, reverse=True)
        self.pattern = re.compile("|".join(rf"(?<!\w){_pattern(value)}(?!\w)" for value in values) or "(?!)")

    def leftover(self, text: str) -> str:
        """What remains of `text` that neither passed through the catalog nor is data; "" when all did."""
        previous = None
        while previous != text:
            previous, text = text, _BRACKETED.sub(" ", text)
        text = self.pattern.sub(" ", text)
        return " ".join(text.split()).strip(" :;,.") if _WORD.search(text) else ""


def _pattern(value: str) -> str:
    """A data string as a pattern; a pack's `{name}` placeholders (reasons, amounts) stand for any value."""
    return r"\S+?".join(re.escape(part) for part in re.split(r"\{\w+\}", value))


def _database_strings():
    for table in db.metadata.sorted_tables:
        columns = [column for column in table.columns if isinstance(column.type, String | Text)
                   and not getattr(column.type, "enums", None) and (table.name, column.name) not in CODE_COLUMNS]
        if columns:
            for row in db.session.execute(select(*columns)):
                yield from (value for value in row if isinstance(value, str))
    # What an audit event kept (references, checksums, file formats) is data too; its keys are not.
    for details in db.session.scalars(select(AuditEvent.details)):
        yield from _strings_in(details)


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _pack_strings():
    """A rule pack's texts written in each of its languages (labels, names, reasons, references) are data."""
    def walk(value, languages):
        if isinstance(value, dict):
            if value and set(value) <= languages:
                yield from (text for text in value.values() if isinstance(text, str))
                return
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                yield from walk(item, languages)

    for path in (ROOT / "rules" / "packs").glob("*.yaml"):
        pack = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(pack, dict) and "languages" in pack:
            yield from walk(pack, {*pack["languages"], "en"})
    # Case categories are data too, named in each language beside their SLA.
    categories = yaml.safe_load((ROOT / "modules" / "grievances" / "categories.yaml").read_text(encoding="utf-8"))
    yield from walk(categories, {"uz", "ru", "en"})
    # So are the reports' indicators, named and defined in each language.
    indicators = yaml.safe_load((ROOT / "modules" / "reporting" / "indicators.yaml").read_text(encoding="utf-8"))
    yield from walk(indicators, {"uz", "ru", "en"})


# --- the data the pages show -------------------------------------------------------------------------------------

_accounts = itertools.count(1)


def _programme(code: str) -> Programme:
    return db.session.scalar(select(Programme).where(Programme.code == code))


def _register(registrar, children: int = 2):
    family = factories.make_family("UZ-TK", children=children)
    application = registration.register_application(ApplicationArgs().load(factories.application_payload(family)),
                                                    registrar)
    return family, application


def decided_application(registrar):
    """Registered, collected (every source answered, nothing found) and decided by the means test."""
    _family, application = _register(registrar)
    application_status.transition(application, ApplicationStatus.collecting, registrar)
    db.session.add_all(DataPull(application_id=application.id, person_id=member.person_id, source=source.name,
                                status=PullStatus.ok, latency_ms=40, payload=[])
                       for source in SOURCES for member in application.members)
    application_status.transition(application, ApplicationStatus.collected, registrar)
    db.session.flush()
    assess(application, registrar)
    return application


def waiting_application(registrar):
    """Sent to manual verification by two silent sources, retried once, waiting again."""
    _family, application = _register(registrar)
    application_status.transition(application, ApplicationStatus.collecting, registrar)
    db.session.add_all(DataPull(application_id=application.id, person_id=member.person_id, source=source.name,
                                status=PullStatus.ok if index > 1 else PullStatus.timeout, latency_ms=40,
                                error=None if index > 1 else "timed out", payload=[])
                       for index, source in enumerate(SOURCES) for member in application.members)
    # The notes the collection writes (modules/means_test/operations.py).
    missing = ", ".join(source.name for source in SOURCES[:2])
    application_status.transition(application, ApplicationStatus.manual_verification, registrar,
                                  note=f"no answer from: {missing}")
    application_status.transition(application, ApplicationStatus.collecting, registrar, note=f"retry: {missing}")
    application_status.transition(application, ApplicationStatus.manual_verification, registrar,
                                  note=f"no answer from: {missing}")
    db.session.flush()
    return application


def checked_payroll(registrar, maker, period: str):
    """A payroll of two enrolments, one paid into an open account and one excluded for having none."""
    family, application = _register(registrar)
    assessment = Assessment(
        application_id=application.id, household_id=application.household_id, kind="initial", pack_id="uz",
        pack_version="2024.06", engine="durable_rules", as_of=date(2025, 11, 10), decision=Decision.eligible,
        per_capita_income=Decimal("100000.00"), monthly_total=Decimal("500000.00"), reasons=[], programmes=[],
        facts={}, trace={})
    db.session.add(assessment)
    db.session.flush()
    first = date.fromisoformat(f"{period}-01")
    for child, banked in zip(family["children"], (True, False), strict=True):
        payee = child if not banked else family["head"]
        account = None
        if banked:
            number = f"2020800{next(_accounts):013d}"
            account = BankAccount(person_id=payee.id, bank_code="00444", account_number=number,
                                  status=BankAccountStatus.opened, request_id=uuid.uuid4().hex)
            db.session.add(account)
            db.session.flush()
        db.session.add(Enrolment(
            application_id=application.id, assessment_id=assessment.id, household_id=family["household"].id,
            programme_id=_programme("child_allowance").id, beneficiary_person_id=child.id, payee_person_id=payee.id,
            monthly_amount=Decimal("250000.50"), months=12, lump_sum=False, period_start=first,
            period_end=date(first.year + 1, first.month, 1), status=EnrolmentStatus.active,
            bank_account_id=account.id if account else None))
    db.session.flush()
    payroll = generation.generate("child_allowance", "UZ-TK", period, maker)
    checks.apply_checks(payroll)
    payroll_status.transition(payroll, PayrollStatus.checked, maker)
    db.session.flush()
    return payroll


def case_with_reassessment(decided, worker):
    """An update case about the decided household whose re-assessment waits for confirmation, so the case page
    shows the comparison and what confirming does."""
    from modules.grievances import operations as cases
    from modules.grievances.models import Reassessment, ReassessmentPurpose, ReassessmentStatus
    from modules.means_test.explain import latest_assessment

    case = cases.open_case({"kind": "update", "category": "birth", "channel": "mahalla", "description": "Qiz tug'ildi",
                            "application_id": decided.id}, worker)
    assessment = latest_assessment(decided.id)
    child = decided.members[-1].person
    db.session.add(Reassessment(case_id=case.id, purpose=ReassessmentPurpose.change, household_id=decided.household_id,
                                previous_assessment_id=assessment.id, application_id=decided.id,
                                status=ReassessmentStatus.assessed, created_by_id=worker.id, refreshed=False,
                                changes=[{"kind": "birth", "pin": child.pin, "name": child.full_name,
                                          "relation": "child", "date": "2026-11-02"}]))
    db.session.flush()
    return case


def representative_data() -> dict:
    users = {role: factories.make_user(role, national=True, language=PSEUDO) for role in ROLES}
    decided = decided_application(users["registrar"])
    case = case_with_reassessment(decided, users["social_worker"])
    waiting = waiting_application(users["registrar"])
    payroll = checked_payroll(users["registrar"], users["finance_maker"], "2031-03")
    from modules.reporting import operations as reporting

    reporting.freeze("2031-03", users["analyst"])  # the month's dashboard is a page, not a 404
    tokens = {role: issue_token(users[role], "pseudo-locale test") for role in ("registrar", "finance_maker")}
    db.session.commit()  # (a savepoint of the test's transaction) an answer above 400 rolls back what it did
    return {"users": users, "tokens": tokens, "decided": decided, "waiting": waiting, "payroll": payroll,
            "case": case}


def sample_values(data: dict) -> dict:
    """A value for each URL parameter of a page."""
    return {"application_id": data["decided"].id, "user_id": data["users"]["registrar"].id,
            "payroll_id": data["payroll"].id, "import_id": 987654, "job_id": "no-such-job", "source": "tax",
            "entry_id": 987654, "household_id": data["decided"].household_id, "case_id": data["case"].id,
            "visit_id": 987654, "reassessment_id": 987654, "payroll_line_id": 987654,
            "list_id": 1, "period": "2031-03", "fmt": "csv"}


def page_urls(app, data: dict) -> list[str]:
    values, urls = sample_values(data), []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/"):
            continue
        missing = rule.arguments - set(values)
        assert not missing, f"the pseudo-locale test has no sample value for {missing} of {rule.rule}: add one"
        urls.append(rule.build({name: values[name] for name in rule.arguments})[1])
    urls.append(f"/applications/{data['waiting'].id}")
    urls.append("/applications?page=x&status=nonsense")  # filters it cannot read are named in a flash message
    urls.append("/no-such-page")
    return sorted(set(urls))


def _findings(allowed: Allowed, where: str, texts) -> set[tuple[str, str]]:
    return {(where, rest) for text in texts if (rest := allowed.leftover(text))}


def shown_data() -> list[str]:
    """Data computed from the rows rather than stored: applications' references."""
    return [application.reference for application in db.session.scalars(select(Application))]


def read_pages(app, data: dict) -> set[tuple[str, str]]:
    """Every page as each role reads it (and the sign-in page as nobody), with what did not pass the catalog."""
    found: set[tuple[str, str]] = set()
    allowed = Allowed(shown_data())
    anonymous = app.test_client()
    anonymous.environ_base["HTTP_ACCEPT_LANGUAGE"] = PSEUDO
    found |= _findings(allowed, "/login", page_texts(anonymous.get("/login").get_data(as_text=True)))
    urls = page_urls(app, data)
    for role, user in data["users"].items():
        client = sign_in(app.test_client(), user)
        for url in urls:
            response = client.get(url)
            if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
                found |= _findings(allowed, f"{url} ({role})", page_texts(response.get_data(as_text=True)))
        if role == "analyst":
            found |= _findings(allowed, "/policy/simulate (results)", page_texts(_simulate(client)))
    return found


def _simulate(client) -> str:
    """The simulation's results: the threshold raised by a tenth."""
    html = client.get("/policy/simulate").get_data(as_text=True)
    value = re.search(r'name="param-income_threshold" value="([^"]+)"', html).group(1)
    response = client.post("/policy/simulate", data={"csrf_token": csrf_token(client, "/policy/simulate"),
                                                     "pack": "uz", "param-income_threshold": float(value) * 1.1},
                           follow_redirects=True)  # to the job's page, which shows the report
    return response.get_data(as_text=True)


def read_api_errors(app, data: dict) -> set[tuple[str, str]]:
    """401, 403, 404 and 422 answers of the API, in the pseudo-locale."""
    allowed = Allowed()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = PSEUDO
    answers = [client.get("/api/v1/applications")]  # no token
    headers = {"Authorization": f"Bearer {data['tokens']['finance_maker']}"}
    answers.append(client.get("/api/v1/applications", headers=headers))  # not allowed
    headers = {"Authorization": f"Bearer {data['tokens']['registrar']}"}
    answers.append(client.get("/api/v1/applications/987654", headers=headers))
    answers.append(client.post("/api/v1/applications", headers=headers, json={"applicant_pin": "12", "members": [{}]}))
    answers.append(client.post("/api/v1/means-test/evaluate", headers=headers, json={"facts": {"members": "x"}}))
    statuses = [(answer.request.path, answer.status_code) for answer in answers]
    assert sorted({status for _path, status in statuses}) == [401, 403, 404, 422], statuses
    found = set()
    for answer in answers:
        found |= _findings(allowed, f"API {answer.status_code} {answer.request.path}", json_texts(answer.get_json()))
    return found


def _report(found: set[tuple[str, str]]) -> str:
    by_text: dict[str, list[str]] = {}
    for where, text in sorted(found):
        by_text.setdefault(text, []).append(where)
    lines = [f"{len(by_text)} texts did not pass through the catalog:"]
    lines += [f"  {json.dumps(text, ensure_ascii=False)}  — {places[0]}" + (f" (+{len(places) - 1} more)"
                                                                         if len(places) > 1 else "")
              for text, places in sorted(by_text.items())]
    return "\n".join(lines)


def test_every_page_and_api_error_speaks_only_through_the_catalog(pseudo_app):
    data = representative_data()
    found = read_pages(pseudo_app, data) | read_api_errors(pseudo_app, data)
    assert not found, _report(found)


def test_the_pseudo_locale_brackets_the_literal_parts_of_a_message_only():
    assert pseudo("Payroll %(id)d of %(period)s") == "⟦Pàýŕöll ⟧%(id)d⟦ öf ⟧%(period)s"
    assert pseudo("<strong>%(n)d</strong> lines") == "<strong>%(n)d</strong>⟦ lîñéš⟧"
    allowed = Allowed(extra=["Karimov"])
    assert allowed.leftover("⟦Pàýŕöll ⟧7⟦ öf ⟧2031-03 · Karimov") == ""
    assert allowed.leftover("⟦Šţàţûš⟧: unquotedword") == "unquotedword"
