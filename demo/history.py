"""A year of payments for the demo's reports: twelve months ending last month, outside Tashkent city.

The demo's other steps make next month's payrolls for a few Tashkent families, so without this the monthly return
would show one future month and an almost empty map. This step stands for the history a registry brings over from
the one it replaces: it is written by direct inserts (SQLAlchemy Core, executemany in chunks, the same code on
SQLite and PostgreSQL), not through registration, collection and the payment screens, which would take minutes.

What it writes still follows the registry's own rules:
- a sample of households outside UZ-TK (the Tashkent households are left to the other demo steps) that never
  applied: one claim each, decided in the half year before the twelve months (they are paid from the first) or
  during them, more of them as the year goes on. Their facts (members from the register copy, modest salaries,
  sometimes a new car or a high income) are decided by the country's rule pack, as the batch engine decides them,
  so the decisions, reasons and amounts are the pack's;
- the eligible ones enrolled from the month after the decision for the pack's months, one enrolment per child for a
  per-child programme, with a card account for the applicant; some stop early (a change of circumstances), and a
  household benefit ends after its months;
- each month, a payroll per programme and region: a draft with a line per enrolment due, checked, approved by the
  demo finance checker, sent (the database writes the payment ledger) and reconciled, most lines paid and a few
  failed or returned. The payroll and ledger triggers run as for any payroll, so the totals are the lines' own;
- the months are marked for the reporting summary, as a decision or a payroll marks them.

Does nothing when any payroll of those months exists.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, insert, select, update

from modules.reporting import summary
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Programme, User
from webapp.timeutil import age_on, month_of

MONTHS = 12
SKIP_REGION = "UZ-TK"  # the other demo steps choose their families there
SHARE = 0.4  # of the households outside Tashkent that never applied
CHILDLESS_KEPT = 0.5  # of the childless ones sampled: most applicants are families with children
STOCK_MONTHS, STOCK_WEIGHT = 6, 1.6  # decided before the year shown, and how many of them each month
SEED = 2026
INELIGIBLE = 0.12  # households whose facts the pack refuses (a high income, a new car, an adult without income)
STOPPED = 0.04  # households whose benefits stop early
FAILED, RETURNED = 0.012, 0.008  # shares of the lines the bank reports failed and returned
SALARY = (180_000, 420_000)  # UZS a month per working adult: under the threshold per person
INCOME_MONTHS = 12  # of income before the application, as the demo's registries are asked for
PENSION = 520_000
CHANNELS = ("office", "office", "office", "mahalla", "mahalla", "single_window", "portal")
MAKER, CHECKER = "finance.maker", "finance.checker"
CHUNK = 2000
IMPORTED = "imported from the previous registry"


class NoHistory(Exception):
    """The demo lacks what the history needs (its finance users, households outside Tashkent)."""


@dataclass
class _Family:
    household_id: int
    area_id: int
    region: str
    members: list[dict]  # {"person_id", "pin", "name", "relation", "birth_date", "sex"}, head first
    month: str = ""  # of the application
    submitted: datetime | None = None
    decided: datetime | None = None
    facts: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    application_id: int = 0
    assessment_id: int = 0


def window(today: date) -> list[str]:
    """The twelve months ending last month, oldest first."""
    return [month_of(today, shift) for shift in range(-MONTHS, 0)]


def create_demo_history(today: date | None = None, seed: int = SEED) -> dict | None:
    """Write the year of history; returns what was written, None when any payroll of those months exists.
    Flushes; the caller commits."""
    from modules.payments.models import Payroll

    today = today or date.today()
    months = window(today)
    if db.session.scalar(select(Payroll.id).where(Payroll.period.in_(months)).limit(1)) is not None:
        return None
    maker, checker = (db.session.scalar(select(User).where(User.username == name)) for name in (MAKER, CHECKER))
    if maker is None or checker is None:
        raise NoHistory(f"the demo users {MAKER} and {CHECKER} are missing")
    rng = random.Random(seed)
    families = _families(rng)
    if not families:  # a population of Tashkent alone (as some tests make) has nobody to give a history
        return None
    _decide(families, months, rng)
    _insert_applications(families)
    enrolments = _insert_enrolments(families, months, rng)
    lines = _insert_payrolls(enrolments, months, maker, checker, rng)
    summary.mark(months[0])  # as decisions and payrolls do: the reporting summary of these months is rebuilt
    db.session.flush()
    enrolled = {e["household_id"] for e in enrolments}
    return {"first": months[0], "last": months[-1], "families": len(enrolled),
            "regions": len({f.region for f in families if f.household_id in enrolled}),
            "beneficiaries": len({e["beneficiary_person_id"] for e in enrolments}),
            "applications": len(families), "lines": lines}


def banner_line(history: dict) -> str:
    return (f"  Demo payment history: {MONTHS} months ({history['first']} … {history['last']}) for "
            f"{history['families']} families ({history['beneficiaries']} beneficiaries) in {history['regions']} "
            f"regions, {history['lines']} payroll lines")


# --- who ---------------------------------------------------------------------------------------------------------


def _families(rng: random.Random) -> list[_Family]:
    """A sample of the living households outside SKIP_REGION that never applied, with a head, by id."""
    from modules.registration.models import Application, Household, HouseholdMember, Person

    regions = db.session.execute(select(Area.code, Area.path).where(Area.level == AreaLevel.region,
                                                                    Area.code != SKIP_REGION)).all()
    applied = select(Application.household_id)
    rows = db.session.execute(select(Household.id, Household.area_id, Area.path)
                              .join(Area, Area.id == Household.area_id).where(Household.id.not_in(applied))
                              .order_by(Household.id)).all()
    chosen = {}
    for household_id, area_id, path in rows:
        region = next((code for code, prefix in regions if path.startswith(prefix)), None)
        if region is not None and rng.random() < SHARE:
            chosen[household_id] = _Family(household_id, area_id, region, [])
    order = {"head": 0, "spouse": 1, "child": 2, "parent": 3, "other": 4}
    dead = set()
    for start in range(0, len(chosen), CHUNK):
        ids = list(chosen)[start:start + CHUNK]
        for household_id, relation, person in db.session.execute(
                select(HouseholdMember.household_id, HouseholdMember.relation, Person)
                .join(Person, Person.id == HouseholdMember.person_id)
                .where(HouseholdMember.household_id.in_(ids), HouseholdMember.left_at.is_(None))
                .order_by(HouseholdMember.id)):
            if person.death_date is not None:
                dead.add(household_id)
            chosen[household_id].members.append(
                {"person_id": person.id, "pin": person.pin, "name": f"{person.last_name} {person.first_name}",
                 "relation": relation.value, "birth_date": person.birth_date, "sex": person.sex.value})
    families = []
    for family in chosen.values():
        family.members.sort(key=lambda m: order[m["relation"]])
        if family.household_id in dead or not family.members or family.members[0]["relation"] != "head":
            continue
        if any(m["relation"] == "child" for m in family.members) or rng.random() < CHILDLESS_KEPT:
            families.append(family)
    return families


# --- decisions ---------------------------------------------------------------------------------------------------


def _decide(families: list[_Family], months: list[str], rng: random.Random) -> None:
    """Application months (more each month), facts, and the pack's decision for each family."""
    from rules import vectorised
    from rules.pack import get_pack
    from webapp.programmes import country_pack_id

    pack = get_pack(country_pack_id())
    # Paid from the month after the decision: families decided in the half year before the first month are paid
    # from the start (some of them to the end of their period during the year), then more new ones each month.
    decided_in = [month_of(_first(months[0]), shift) for shift in range(-STOCK_MONTHS, 0)] + months[:-1]
    weights = [STOCK_WEIGHT] * STOCK_MONTHS + [1 + i / 6 for i in range(len(months) - 1)]
    by_version = defaultdict(list)
    for family in families:
        family.month = rng.choices(decided_in, weights)[0]
        day = _first(family.month) + timedelta(days=rng.randrange(20))
        family.submitted = _at(day, 9, rng.randrange(60))
        family.decided = _at(day + timedelta(days=rng.randrange(1, 8)), 11, rng.randrange(60))
        family.members = [m for m in family.members if m["birth_date"] <= day]  # born later: not on the application
        version = pack.version_for(day)
        family.facts = _facts(family, day, version, rng)
        by_version[version.version].append(family)
    for name, group in by_version.items():
        version = pack.version_named(name)
        for family, result in zip(group, vectorised.evaluate_documents([f.facts for f in group], version),
                                  strict=True):
            family.result = result


def _facts(family: _Family, day: date, version, rng: random.Random) -> dict:
    """The facts the previous registry held: the year's salaries of working adults (modest), pensions, no assets;
    for a share of households a high income, a new car or an adult of working age without income. Written with the
    defaults `validate_facts` would fill (validating a thousand documents against the schema would cost seconds);
    the tests validate them."""
    parameters = version.parameters
    months = [month_of(day, -n) for n in range(1, INCOME_MONTHS + 1)]  # as the registries are asked for them
    refusal = rng.choice(("income", "car", "idle")) if rng.random() < INELIGIBLE else None
    ages = [age_on(member["birth_date"], day) for member in family.members]
    working = [i for i, (member, age) in enumerate(zip(family.members, ages, strict=True))
               if age >= 18 and not _retired(member, age, parameters)]
    idle = working[-1] if refusal == "idle" and working else None
    salary = (int(parameters.get("income_threshold", 600_000) * len(family.members) / max(len(working), 1) * 1.4)
              if refusal == "income" else None)
    members = []
    for index, (member, age) in enumerate(zip(family.members, ages, strict=True)):
        if index in working and index != idle:
            amount = salary or rng.randrange(*SALARY, 10_000)
            income = [{"source": "salary", "month": month, "amount": amount} for month in months]
        elif age >= 18 and index != idle:
            income = [{"source": "pension", "month": month, "amount": PENSION} for month in months]
        else:
            income = []
        members.append({"pin": member["pin"], "relation": member["relation"],
                        "birth_date": member["birth_date"].isoformat(), "sex": member["sex"], "income": income,
                        "alimony_paid": [], "disability_group": None, "statuses": []})
    children = [m for m, age in zip(members, ages, strict=True) if m["relation"] == "child" and age < 18]
    if children and rng.random() < 0.06:
        rng.choice(children)["disability_group"] = "child"
    vehicles = ([{"owner_pin": members[0]["pin"], "year": day.year - 2, "kind": "passenger"}]
                if refusal == "car" else [])
    return {"household_id": family.household_id, "region": family.region, "application_date": day.isoformat(),
            "members": members, "vehicles": vehicles, "real_estate": [], "securities_value": 0}


def _retired(member: dict, age: int, parameters: dict) -> bool:
    return age >= parameters.get(f"retirement_age_{'male' if member['sex'] == 'M' else 'female'}", 60)


def _insert_applications(families: list[_Family]) -> None:
    from modules.means_test.models import Assessment
    from modules.registration.models import Application, ApplicationEvent, ApplicationMember, application_programme

    programmes = dict(db.session.execute(select(Programme.code, Programme.id)).all())
    default = _default_programme(programmes)
    ids = _insert(Application.__table__, [
        {"household_id": f.household_id, "applicant_id": f.members[0]["person_id"], "area_id": f.area_id,
         "phone": "+998900000000", "language": "uz", "channel": CHANNELS[f.household_id % len(CHANNELS)],
         "status": "decided", "is_open": False, "period": f.month, "purpose": "claim",
         "created_at": f.submitted, "submitted_at": f.submitted} for f in families])
    for family, application_id in zip(families, ids, strict=True):
        family.application_id = application_id
    _insert(ApplicationMember.__table__, [
        {"application_id": f.application_id, "person_id": m["person_id"], "relation": m["relation"], "is_open": False}
        for f in families for m in f.members], returning=False)
    _insert(application_programme, [
        {"application_id": f.application_id, "programme_id": programmes[code]} for f in families
        for code in ([p["code"] for p in f.result["programmes"]] or [default])], returning=False)
    _insert(ApplicationEvent.__table__, [
        row for f in families for row in (
            {"application_id": f.application_id, "at": f.submitted, "from_status": None, "to_status": "submitted",
             "note": IMPORTED},
            {"application_id": f.application_id, "at": f.decided, "from_status": "submitted", "to_status": "decided",
             "note": f"{f.result['pack_version']}: {f.result['decision']}"})], returning=False)
    ids = _insert(Assessment.__table__, [
        {"application_id": f.application_id, "household_id": f.household_id, "kind": "initial",
         "pack_id": f.result["pack_version"].split("@")[0], "pack_version": f.result["pack_version"].split("@")[1],
         "engine": "pandas", "as_of": date.fromisoformat(f.facts["application_date"]),
         "decision": f.result["decision"], "per_capita_income": Decimal(str(f.result["per_capita_income"])),
         "monthly_total": sum((Decimal(str(p["monthly_amount"])) for p in f.result["programmes"]), Decimal(0)),
         "reasons": f.result["reasons"], "programmes": f.result["programmes"], "facts": f.facts,
         "trace": f.result["trace"], "created_at": f.decided} for f in families])
    for family, assessment_id in zip(families, ids, strict=True):
        family.assessment_id = assessment_id


def _default_programme(programmes: dict[str, int]) -> str:
    """What a refused family applied for: the first programme of the country's pack."""
    from rules.pack import get_pack
    from webapp.programmes import country_pack_id

    return next(p.code for p in get_pack(country_pack_id()).programmes if p.code in programmes)


# --- enrolments --------------------------------------------------------------------------------------------------


def _insert_enrolments(families: list[_Family], months: list[str], rng: random.Random) -> list[dict]:
    """Bank accounts for the eligible families' applicants and one enrolment per programme and beneficiary;
    returns the enrolments (with their ids and payee snapshots)."""
    from modules.enrolment.models import BankAccount, Enrolment
    from rules.evaluation import derive
    from rules.pack import get_pack

    eligible = [f for f in families if f.result["decision"] == "eligible" and f.result["programmes"]]
    bank_code = current_app.config["PAYEE_BANK_CODE"]
    accounts = _insert(BankAccount.__table__, [
        {"person_id": f.members[0]["person_id"], "bank_code": bank_code,
         "account_number": f"226180009{f.members[0]['person_id']:011d}", "status": "card_issued",
         "request_id": f"history-{f.members[0]['person_id']}", "requested_at": f.decided,
         "opened_at": f.decided + timedelta(days=2), "card_issued_at": f.decided + timedelta(days=5)}
        for f in eligible])
    programmes = dict(db.session.execute(select(Programme.code, Programme.id)).all())
    people = {m["pin"]: m for f in eligible for m in f.members}
    last = _first(months[-1])
    enrolments = []
    for family, account_id in zip(eligible, accounts, strict=True):
        pack = get_pack(family.result["pack_version"].split("@")[0])
        version = pack.version_named(family.result["pack_version"].split("@")[1])
        declared = {p.code: p for p in pack.programmes}
        start = _first(month_of(family.decided.date(), 1))
        stop = None
        if rng.random() < STOPPED and start < last:  # a change of circumstances: paid to the end of that month
            stop = _month_end(_shift(start, rng.randrange(1, max(2, _months_between(start, last)))))
        applicant = family.members[0]
        derived = derive(version, family.facts)[1]  # each member's values, as the decision saw them
        for item in family.result["programmes"]:
            programme = declared[item["code"]]
            if programme.lump_sum:
                continue  # paid once at the start: not a monthly payment to show
            if programme.paid_for is None:
                paid = [(applicant, Decimal(str(item["monthly_amount"])))]
            else:
                each = Decimal(str(version.parameters[programme.paid_for.amount]))
                paid = [(people[fact["pin"]], each) for fact, member in zip(family.facts["members"], derived,
                                                                              strict=True)
                        if member[programme.paid_for.each]]
            end = _month_end(_shift(start, int(item["months"]) - 1))
            for beneficiary, amount in paid:
                enrolments.append({
                    "application_id": family.application_id, "assessment_id": family.assessment_id,
                    "household_id": family.household_id, "programme_id": programmes[item["code"]],
                    "beneficiary_person_id": beneficiary["person_id"], "payee_person_id": applicant["person_id"],
                    "monthly_amount": amount, "months": int(item["months"]), "lump_sum": False,
                    "period_start": start, "period_end": min(end, stop) if stop else end, "status": "active",
                    "bank_account_id": account_id, "created_at": family.decided, "updated_at": family.decided,
                    # not columns: for the payroll lines
                    "_region": family.region, "_payee": (applicant["name"], applicant["pin"],
                                                          f"226180009{applicant['person_id']:011d}", bank_code)})
    columns = {c.name for c in Enrolment.__table__.columns}
    ids = _insert(Enrolment.__table__, [{k: v for k, v in e.items() if k in columns} for e in enrolments])
    for enrolment, enrolment_id in zip(enrolments, ids, strict=True):
        enrolment["id"] = enrolment_id
    return enrolments


# --- payments ----------------------------------------------------------------------------------------------------


def _insert_payrolls(enrolments: list[dict], months: list[str], maker: User, checker: User,
                     rng: random.Random) -> int:
    """Each month's payrolls per programme and region, taken from draft to reconciled; returns the lines written."""
    from modules.payments.generation import set_end_to_end_ids
    from modules.payments.models import Payroll, PayrollLine

    regions = dict(db.session.execute(select(Area.code, Area.id).where(Area.level == AreaLevel.region)).all())
    due = defaultdict(list)  # (period, programme id, region) → enrolments
    for enrolment in enrolments:
        for period in months:
            first = _first(period)
            if enrolment["period_start"] <= first <= enrolment["period_end"]:
                due[period, enrolment["programme_id"], enrolment["_region"]].append(enrolment)
    keys = sorted(due)
    ids = _insert(Payroll.__table__, [
        {"programme_id": programme_id, "area_id": regions[region], "period": period, "status": "draft",
         "prepared_by_id": maker.id, "created_at": _at(_first(period) - timedelta(days=10), 9),
         "line_count": 0, "total_amount": Decimal(0)} for period, programme_id, region in keys])
    payroll_of = dict(zip(keys, ids, strict=True))
    outcomes = defaultdict(lambda: defaultdict(list))  # period → status → enrolment ids
    lines = []
    for key in keys:
        for enrolment in due[key]:
            name, pin, account, bank = enrolment["_payee"]
            lines.append({"payroll_id": payroll_of[key], "enrolment_id": enrolment["id"], "period": key[0],
                          "amount": enrolment["monthly_amount"], "status": "included", "cancelled": False,
                          "payee_name": name, "payee_pin": pin, "payee_account": account, "payee_bank_code": bank})
            draw = rng.random()
            if draw < FAILED + RETURNED:
                outcomes[key[0]]["failed" if draw < FAILED else "returned"].append(enrolment["id"])
    _insert(PayrollLine.__table__, lines, returning=False)
    for payroll_id in ids:
        set_end_to_end_ids(payroll_id)
    if db.session.get_bind().dialect.name != "postgresql":  # PostgreSQL's triggers keep the totals
        _write_totals(ids)
    for period in months:
        _pay(period, [payroll_of[key] for key in keys if key[0] == period], outcomes[period], checker)
    return len(lines)


def _write_totals(ids: list[int]) -> None:
    """SQLite: the payrolls' count and sum of their lines, as `generation.refresh_totals` writes them."""
    from modules.payments.models import Payroll, PayrollLine

    line = PayrollLine
    for start in range(0, len(ids), CHUNK):
        db.session.execute(update(Payroll).where(Payroll.id.in_(ids[start:start + CHUNK])).values(
            line_count=select(func.count()).where(line.payroll_id == Payroll.id).scalar_subquery(),
            total_amount=select(func.coalesce(func.sum(line.amount), 0)).where(line.payroll_id == Payroll.id)
            .scalar_subquery()).execution_options(synchronize_session=False))


def _pay(period: str, ids: list[int], outcomes: dict[str, list[int]], checker: User) -> None:
    """One month's payrolls checked, approved, sent (the ledger), settled by the bank's statement, reconciled."""
    from modules.payments.models import Payroll, PayrollLine

    if not ids:
        return
    first = _first(period)
    moves = (("checked", {"checked_at": _at(first - timedelta(days=9), 10)}),
             ("approved", {"approved_by_id": checker.id, "approved_at": _at(first - timedelta(days=7), 15)}),
             ("sent", {"sent_at": _at(first + timedelta(days=2), 10)}))
    for status, values in moves:
        db.session.execute(update(Payroll).where(Payroll.id.in_(ids)).values(status=status, **values)
                           .execution_options(synchronize_session=False))
    for status, enrolment_ids in outcomes.items():
        db.session.execute(update(PayrollLine).where(PayrollLine.period == period,
                                                     PayrollLine.enrolment_id.in_(enrolment_ids))
                           .values(status=status).execution_options(synchronize_session=False))
    db.session.execute(update(PayrollLine).where(PayrollLine.payroll_id.in_(ids), PayrollLine.status == "included")
                       .values(status="paid").execution_options(synchronize_session=False))
    db.session.execute(update(Payroll).where(Payroll.id.in_(ids)).values(
        status="reconciled", reconciled_at=_at(first + timedelta(days=9), 16))
        .execution_options(synchronize_session=False))


# --- helpers -----------------------------------------------------------------------------------------------------


def _insert(table, rows: list[dict], returning: bool = True) -> list[int]:
    """INSERT the rows in chunks (executemany); their ids in the rows' order when `returning`."""
    ids = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if returning:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids += db.session.execute(statement, chunk).scalars().all()
        else:
            db.session.execute(insert(table), chunk)
    return ids


def _first(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _shift(date(day.year, day.month, 1), 1) - timedelta(days=1)


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of a local day (the country's time zone), as the aware datetime the columns store."""
    from webapp.timeutil import local_day_start

    return local_day_start(day) + timedelta(hours=hour, minutes=minute)

