"""Factory helpers: users, persons with valid PINs, families in households."""

from __future__ import annotations

import contextlib
import html
import itertools
import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pyotp
from sqlalchemy import bindparam, select, text

from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from modules.enrolment.operations import enrolments_of
from modules.means_test.assessment import store_assessment
from modules.means_test.models import Assessment, DataPull, Decision
from modules.payments import checks, generation, status
from modules.payments.models import (
    FundRequest,
    FundRequestPayroll,
    FundRequestStatus,
    LineStatus,
    Payroll,
    PayrollLine,
)
from modules.registration import operations as registration
from modules.registration.models import ApplicationStatus, Household, HouseholdMember, Person, Relation, Sex
from modules.registration.schemas import ApplicationArgs
from rules.engines import evaluate
from rules.facts import validate_facts
from webapp import signals
from webapp.auth import totp
from webapp.auth.operations import create_user, issue_token
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Programme, Role
from webapp.pin import make_uz

PASSWORD = "correct-horse-battery"
_serial = itertools.count(1)
_names = itertools.count(1)


def area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


def mahalla_in(code: str) -> Area:
    """The first mahalla inside a region or district."""
    parent = area(code)
    return db.session.scalar(select(Area).where(Area.level == AreaLevel.mahalla, Area.path.startswith(parent.path))
                             .order_by(Area.code))


def make_user(role: str, areas=(), national: bool = False, username: str | None = None, password: str = PASSWORD,
              language: str = "en"):
    username = username or f"{role}-{next(_names)}"
    user = create_user(username, password, Role(role), f"Test {role}", list(areas), national_scope=national,
                       language=language)
    db.session.flush()
    return user


def make_person(area_code: str = "UZ-TK", birth_date: date = date(1985, 4, 2), sex: str = "M", **fields) -> Person:
    serial = next(_serial)
    person = Person(pin=fields.pop("pin", None) or make_uz(birth_date, sex, serial // 1000 + 1, serial),
                    last_name=fields.pop("last_name", "Karimov"), first_name=fields.pop("first_name", f"Test{serial}"),
                    birth_date=birth_date, sex=Sex(sex), area_id=mahalla_in(area_code).id, **fields)
    db.session.add(person)
    db.session.flush()
    return person


def make_family(area_code: str = "UZ-TK", children: int = 2, household: bool = True) -> dict:
    """Head (1985, M), spouse (1988, F) and children born 2012+; in one household unless household=False."""
    head = make_person(area_code, date(1985, 4, 2), "M")
    spouse = make_person(area_code, date(1988, 9, 15), "F", last_name="Karimova")
    kids = [make_person(area_code, date(2012 + i, 1 + i, 10), "F" if i % 2 else "M") for i in range(children)]
    family = {"head": head, "spouse": spouse, "children": kids, "household": None}
    if household:
        home = Household(area_id=head.area_id, address="Test street 1")
        db.session.add(home)
        db.session.flush()
        relations = [(head, Relation.head), (spouse, Relation.spouse)] + [(kid, Relation.child) for kid in kids]
        for person, relation in relations:
            db.session.add(HouseholdMember(household_id=home.id, person_id=person.id, relation=relation))
        db.session.flush()
        family["household"] = home
    return family


def application_payload(family: dict, **overrides) -> dict:
    payload = {
        "applicant_pin": family["head"].pin,
        "phone": "+998901234567",
        "members": [{"pin": family["spouse"].pin, "relation": "spouse"}]
        + [{"pin": kid.pin, "relation": "child"} for kid in family["children"]],
        "programmes": ["child_allowance"],
        "channel": "office",
    }
    payload.update(overrides)
    return payload


def form_data(payload: dict, csrf: str, action: str = "submit") -> dict:
    """The same payload as the 'New application' form posts it."""
    return {
        "csrf_token": csrf,
        "applicant_pin": payload["applicant_pin"],
        "phone": payload["phone"],
        "member_pin": [m["pin"] for m in payload["members"]],
        "member_relation": [m["relation"] for m in payload["members"]],
        "programmes": payload["programmes"],
        "channel": payload["channel"],
        "action": action,
    }


# --- enrolments, payrolls and statements (payments, enrolment and browser tests) -------------------------------

PAYROLL_PERIOD = "2026-01"
PAYROLL_START = date(2025, 12, 1)


_account_numbers = itertools.count(1)


def programme_named(code: str) -> Programme:
    return db.session.scalar(select(Programme).where(Programme.code == code))


def assessed_family(region: str = "UZ-TK", children: int = 2) -> dict:
    """A family with an application and a (minimal) eligible assessment the enrolments hang off."""
    family = make_family(region, children=children)
    user = make_user("registrar", national=True)
    application = registration.register_application(
        ApplicationArgs().load(application_payload(family)), user)
    assessment = Assessment(
        application_id=application.id, household_id=application.household_id, kind="initial", pack_id="uz",
        pack_version="test", engine="durable_rules", as_of=date(2025, 11, 10), decision=Decision.eligible,
        per_capita_income=Decimal("100000.00"), monthly_total=Decimal("1.00"), reasons=[], programmes=[], facts={},
        trace={}, created_at=datetime(2025, 11, 20, 8, tzinfo=UTC))
    db.session.add(assessment)
    db.session.flush()
    family["application"], family["assessment"] = application, assessment
    return family


def bank_account(person_id: int, state: BankAccountStatus = BankAccountStatus.opened) -> BankAccount:
    account = db.session.scalar(select(BankAccount).where(BankAccount.person_id == person_id))
    if account is None:
        number = f"2020800{next(_account_numbers):013d}" if state is not BankAccountStatus.requested else None
        account = BankAccount(person_id=person_id, bank_code="00444", account_number=number, status=state,
                              request_id=uuid.uuid4().hex)
        db.session.add(account)
        db.session.flush()
    return account


def enrol(family: dict, beneficiary=None, programme: str = "child_allowance", amount: str = "250000.00",
          months: int = 12, lump_sum: bool = False, start: date = PAYROLL_START, account=BankAccountStatus.opened,
          household_id: int | None = None) -> Enrolment:
    beneficiary = beneficiary or family["children"][0]
    payee = family["head"]
    end = date(start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1, 1)
    enrolment = Enrolment(
        application_id=family["application"].id, assessment_id=family["assessment"].id,
        household_id=household_id or family["household"].id, programme_id=programme_named(programme).id,
        beneficiary_person_id=beneficiary.id, payee_person_id=payee.id, monthly_amount=Decimal(amount),
        months=months, lump_sum=lump_sum, period_start=start,
        period_end=date.fromordinal(end.toordinal() - 1), status=EnrolmentStatus.active,
        bank_account_id=bank_account(payee.id, account).id if account else None)
    db.session.add(enrolment)
    db.session.flush()
    return enrolment


def payroll_lines(payroll: Payroll) -> list[PayrollLine]:
    db.session.expire_all()
    return list(db.session.scalars(select(PayrollLine).where(PayrollLine.payroll_id == payroll.id)
                                   .order_by(PayrollLine.id)))


def finance_checker(**kwargs):
    user = make_user("finance_checker", national=True, **kwargs)
    totp.enable(user)
    return user


def totp_code(user, at: datetime | None = None) -> str:
    return pyotp.TOTP(user.totp_secret).at(at or datetime.now(UTC))


def fund(payroll: Payroll) -> FundRequest:
    """Record the treasury's confirmation for an approved payroll, as `funding.request_funds` would."""
    request = FundRequest(reference=f"TEST-FR-{payroll.id}-{uuid.uuid4().hex[:8]}", period=payroll.period,
                          status=FundRequestStatus.confirmed, total_amount=payroll.total_amount,
                          beneficiaries=payroll.line_count, lines=[], treasury_reference="GFMIS-TEST")
    db.session.add(request)
    db.session.flush()
    db.session.add(FundRequestPayroll(fund_request_id=request.id, payroll_id=payroll.id, amount=payroll.total_amount))
    db.session.flush()
    return request


def remove_payroll(payroll_id: int, enrolment_id: int, family: dict) -> None:
    """Remove what the test committed — the payroll with its lines and ledger rows (past the database's guards,
    which refuse it to everyone else), the enrolment, the family and its application — so that later tests, which
    list applications and persons, start clean."""
    run = db.session.execute
    with past_the_guards():
        run(text("DELETE FROM payment_ledger WHERE payroll_id = :id"), {"id": payroll_id})
        run(text("DELETE FROM payroll_line WHERE payroll_id = :id"), {"id": payroll_id})
        run(text("DELETE FROM payroll WHERE id = :id"), {"id": payroll_id})
        run(text("DELETE FROM enrolment WHERE id = :id"), {"id": enrolment_id})
    remove_family(family)
    db.session.commit()


def remove_family(family: dict) -> None:
    """Delete a committed family ({"application", "household", "persons"} ids) with its enrolments (and what the
    payment ledger says of them), accounts and application (no commit)."""
    run = db.session.execute
    persons = {"ids": family["persons"]}
    with past_the_guards():
        run(text("DELETE FROM payment_ledger WHERE enrolment_id IN "
                 "(SELECT id FROM enrolment WHERE application_id = :app)"), {"app": family["application"]})
        run(text("DELETE FROM enrolment WHERE application_id = :app"), {"app": family["application"]})
        run(text("DELETE FROM bank_account WHERE person_id IN :ids").bindparams(bindparam("ids", expanding=True)),
            persons)
        run(text("DELETE FROM application WHERE id = :id"), {"id": family["application"]})  # cascades its rows
        run(text("DELETE FROM household_member WHERE household_id = :id"), {"id": family["household"]})
        run(text("DELETE FROM household WHERE id = :id"), {"id": family["household"]})
        run(text("DELETE FROM person WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)), persons)


_GUARDED_TABLES = ("payment_ledger", "payroll", "payroll_line")


@contextlib.contextmanager
def past_the_guards():
    """Test clean-up only: the payment tables' own triggers (append-only ledger, frozen payrolls) do not fire inside;
    foreign keys still do, so ON DELETE CASCADE still takes a deleted application's assessments with it. On
    PostgreSQL a payroll line's payroll is checked by such a trigger, not a foreign key: off inside the block too.
    PostgreSQL: the tables' user triggers are disabled until the block ends, in the same transaction; SQLite: they
    are dropped and made again in the same transaction, and foreign keys are checked at its commit."""
    run = db.session.execute
    if db.session.get_bind().dialect.name == "postgresql":
        for table in _GUARDED_TABLES:
            run(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        try:
            yield
        finally:
            for table in _GUARDED_TABLES:
                run(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    triggers = run(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN :tables")
                   .bindparams(bindparam("tables", expanding=True)), {"tables": list(_GUARDED_TABLES)}).all()
    connection = db.session.connection()
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at commit; off again after it
    for name, _sql in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


INCOME_MONTHS = ["2025-08", "2025-09", "2025-10"]
DECIDED_AT = datetime(2025, 11, 20, 8, tzinfo=UTC)  # 13:00 in Tashkent: periods start on 1 December 2025


def income_facts(family: dict, monthly_income: int, extra: dict | None = None) -> dict:
    """Head and spouse with that salary each month of the window; `extra` adds fields per PIN."""
    people = [("head", family["head"]), ("spouse", family["spouse"])] + [("child", k) for k in family["children"]]
    extra = extra or {}
    return {"application_date": "2025-11-10", "members": [
        {"pin": person.pin, "relation": relation, "birth_date": person.birth_date.isoformat(), "sex": person.sex.value,
         "income": [{"source": "salary", "month": m, "amount": monthly_income} for m in INCOME_MONTHS]
         if relation in ("head", "spouse") else [], **extra.get(person.pin, {})}
        for relation, person in people]}


def decided_assessment(family: dict | None = None, monthly_income: int = 300_000, extra: dict | None = None,
                       decided: datetime = DECIDED_AT, programmes=("child_allowance",), edit=None) -> Assessment:
    """An application assessed with the real engine; the assessment stored but the signal not yet sent."""
    family = family or make_family(children=2)
    user = make_user("registrar", national=True)
    payload = application_payload(family, programmes=list(programmes))
    application = registration.register_application(ApplicationArgs().load(payload), user)
    facts = validate_facts(income_facts(family, monthly_income, extra))
    result = evaluate(facts, "uz", engine="durable_rules")
    if edit:
        edit(result)
    return store_assessment(application, facts, result, "durable_rules", created_at=decided)


def decide(assessment: Assessment, actor=None) -> list[Enrolment]:
    signals.application_decided.send(assessment.application, assessment=assessment, actor=actor)
    return enrolments_of(assessment.id)


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


PAYMENT_AMOUNT = Decimal("250000.00")


def sent_payroll(children: int = 3):
    """A sent child-allowance payroll for PAYROLL_PERIOD with one line per child, all included."""
    family = assessed_family(children=children)
    for child in family["children"]:
        enrol(family, child)
    maker = make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PAYROLL_PERIOD, maker)
    checks.run_checks(payroll, maker)
    checker = finance_checker()
    status.approve(payroll, checker, totp_code(checker))
    fund(payroll)
    status.mark_sent(payroll)
    lines = payroll_lines(payroll)
    assert len(lines) == children and all(line.status is LineStatus.included for line in lines)
    return payroll, lines


def camt054(entries: list[tuple[str, Decimal, str]], msg_id: str = "NTF-T-1") -> bytes:
    """A camt.054.001.08 notification: ("paid" → our booked debit, "returned" → a return credit with AC04)."""
    ntries = []
    for e2e, amount, outcome in entries:
        if outcome == "paid":
            ntries.append(
                f'<Ntry><Amt Ccy="UZS">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
                '<BookgDt><Dt>2026-01-28</Dt></BookgDt>'
                '<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>'
                f'<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>')
        else:
            ntries.append(
                f'<Ntry><Amt Ccy="UZS">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
                '<BookgDt><Dt>2026-01-29</Dt></BookgDt>'
                '<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>RRTN</SubFmlyCd></Fmly></Domn></BkTxCd>'
                f'<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>'
                '<RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Account closed</AddtlInf></RtrInf>'
                '</TxDtls></NtryDtls></Ntry>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>'
        f'<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>2026-01-29T18:00:00+05:00</CreDtTm></GrpHdr>'
        '<Ntfctn><Id>N-1</Id><Acct><Id><Othr><Id>20210000900100001001</Id></Othr></Id><Ccy>UZS</Ccy></Acct>'
        f'{"".join(ntries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>').encode()


def statement_csv(rows: list[tuple[str, Decimal, str]]) -> bytes:
    header = "end_to_end_id,amount,currency,status,booking_date,reason_code,reason_text\n"
    body = "".join(f"{e2e},{amount},UZS,{outcome},2026-01-28,{'AC04' if outcome != 'paid' else ''},\n"
                   for e2e, amount, outcome in rows)
    return (header + body).encode()


# --- registration, tokens, the test transaction ------------------------------------------------------------------


def commit() -> None:
    """Release the test's savepoint, so a request that ends in a rollback cannot take the set-up with it."""
    db.session.commit()


def register(payload: dict, actor, **overrides):
    """Register an application through the operation, as the form and the API do (submitted unless told)."""
    return registration.register_application(ApplicationArgs().load({**payload, **overrides}), actor)


def register_family(actor, area_code: str = "UZ-TK", children: int = 2, **overrides):
    return register(application_payload(make_family(area_code, children=children), **overrides), actor)


def bearer(user) -> dict[str, str]:
    """The Authorization header of a new API token for `user` (committed, so a refused request keeps it)."""
    token = issue_token(user, "test")
    commit()
    return {"Authorization": f"Bearer {token}"}


def tamper_audit(statement: str, **params) -> None:
    """Change audit rows as an intruder with database rights would: with the append-only triggers switched off
    (on PostgreSQL all of the table's own triggers, TRUNCATE's too)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        db.session.execute(text(statement), params)
        db.session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        db.session.execute(text(statement), params)  # the rolled-back test transaction restores the triggers


def reachable_redis_url() -> str | None:
    """REDIS_URL (CI sets it) when a Redis answers there, else None: the test is skipped."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


# A two-person facts document for the means-test calculator: a working mother and a child.
CALCULATOR_FACTS = {"application_date": "2026-11-10", "members": [
    {"pin": "30101850010011", "relation": "head", "birth_date": "1985-01-01", "sex": "F",
     "income": [{"source": "salary", "month": "2026-09", "amount": 900000}]},
    {"pin": "50101200010012", "relation": "child", "birth_date": "2020-01-01", "sex": "M"}]}


# --- households re-assessed from cases (grievances and browser tests) ------------------------------------------


def household_decided(income: int, decided: datetime, **kwargs) -> Assessment:
    """A household whose application (submitted 10 November 2025) was decided with the real engine at `decided`,
    the decision signal sent: an eligible one is enrolled. What re-assessments start from."""
    assessment = decided_assessment(monthly_income=income, decided=decided, **kwargs)
    application = assessment.application
    application.status, application.is_open = ApplicationStatus.decided, False
    for member in application.members:
        member.is_open = False
    application.submitted_at = datetime(2025, 11, 10, 6, tzinfo=UTC)
    db.session.flush()
    decide(assessment)
    return assessment


EVIDENCE_MONTHS = [f"2025-{month:02d}" for month in range(8, 13)] + [f"2026-{month:02d}" for month in range(1, 13)]


def evidence_on_file(application, incomes: dict | None = None) -> None:
    """Every source answered for every member, as a finished collection leaves it; `incomes` ({pin: monthly
    salary}) in the tax registry for every month from August 2025 (any income window of these tests)."""
    from connectors.catalog import SOURCES
    from connectors.records import IncomeLine, to_json

    incomes = incomes if incomes is not None else {
        member.person.pin: 300_000 for member in application.members if member.relation.value in ("head", "spouse")}
    if not any(member.relation.value == "head" for member in application.members):
        incomes.setdefault(application.applicant.pin, 300_000)
    for member in application.members:
        for source in SOURCES:
            payload = []
            if source.name == "tax" and member.person.pin in incomes:
                payload = [to_json(IncomeLine(pin=member.person.pin, source="salary", month=month,
                                              amount=incomes[member.person.pin])) for month in EVIDENCE_MONTHS]
            db.session.add(DataPull(application_id=application.id, person_id=member.person_id, source=source.name,
                                    status="ok" if payload else "not_found", latency_ms=5, payload=payload))
    db.session.flush()


def sent_payroll_in(region: str, children: int = 1):
    """A sent child-allowance payroll for PAYROLL_PERIOD in another region than sent_payroll's, one line a child."""
    family = assessed_family(region, children=children)
    for child in family["children"]:
        enrol(family, child)
    maker = make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", region, PAYROLL_PERIOD, maker)
    checks.run_checks(payroll, maker)
    checker = finance_checker()
    status.approve(payroll, checker, totp_code(checker))
    fund(payroll)
    status.mark_sent(payroll)
    return payroll, payroll_lines(payroll)
