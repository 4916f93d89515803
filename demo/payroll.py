"""A month ready to approve in `make run`: a few Tashkent families decided eligible, enrolled, banked, on a payroll.

Few synthetic families pass the means test (most have an able-bodied adult without income, or a car), so the demo
chooses some families with children and makes their registry records those of a low-income family: in the
simulator's registries (never in the registry's own tables) it removes their cars, property and securities and
gives every adult a modest salary. Then everything goes through the real path, as people would do it: a registrar
registers them, the registries are pulled, the means test decides and enrols them, their payee list goes to the
simulated bank, which opens the accounts, and the demo finance maker prepares and checks next month's payroll. The
demo finance checker approves it from the page. Does nothing once any payroll exists.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import delete, insert, select

from connectors.simulator import store
from modules.registration.models import Household, Relation
from webapp.boundary import unit_of_work
from webapp.extensions import db
from webapp.models import Area, User
from webapp.timeutil import month_of

log = logging.getLogger(__name__)
FAMILIES = 6
SKIP = 18  # the banner's 3 families (left for trying by hand) and the 15 of the demo history
MONTHLY_SALARY = 220_000  # UZS per adult: well under the threshold per person in a family with children
PROGRAMME, REGION = "child_allowance", "UZ-TK"


def prepare_demo_month(sim_engine, today: date | None = None, before_payroll=None) -> dict | None:
    """Decide, enrol and bank a few families, then prepare and check next month's payroll; None if done before.

    `before_payroll()` runs once the families are enrolled and before the payroll is generated (the demo reports a
    death then, so the payroll leaves the deceased out as it would)."""
    from modules.payments.models import Payroll
    from webapp.models import Programme

    # Tashkent's only: the demo's payment history elsewhere is no reason to skip this.
    if db.session.scalar(select(Payroll.id).join(Programme, Programme.id == Payroll.programme_id)
                         .join(Area, Area.id == Payroll.area_id)
                         .where(Programme.code == PROGRAMME, Area.code == REGION).limit(1)) is not None:
        return None
    today = today or date.today()
    families = _families_with_children(FAMILIES, today)
    with sim_engine.begin() as conn:
        for family in families:
            _low_income(conn, [person.pin for person, _relation in family], today)
    registered = sum(_register(family) for family in families)
    if before_payroll is not None:
        before_payroll()
        db.session.remove()
    return {"registered": registered, **_prepare_payroll(today)}


def _families_with_children(count: int, today: date) -> list[list[tuple]]:
    """[(person, relation)] of Tashkent households with a child under 18 and nobody deceased, head first."""
    region = db.session.scalar(select(Area).where(Area.code == REGION))
    households = db.session.scalars(select(Household).join(Area, Household.area_id == Area.id)
                                    .where(Area.path.startswith(region.path)).order_by(Household.id)
                                    .offset(SKIP).limit(200)).all()
    born_after = date(today.year - 18, today.month, 1)  # under 18 on the first of this month
    chosen = []
    for household in households:
        members = sorted(((m.person, m.relation) for m in household.members), key=lambda pr: pr[1] != Relation.head)
        alive = all(person.death_date is None for person, _ in members)
        has_child = any(relation is Relation.child and person.birth_date > born_after for person, relation in members)
        if alive and has_child and members and members[0][1] is Relation.head:
            chosen.append(members)
        if len(chosen) == count:
            break
    return chosen


def _low_income(conn, pins: list[str], today: date) -> None:
    """In the simulated registries: no car, property or securities; a modest salary for every adult, 12 months."""
    conn.execute(delete(store.vehicle).where(store.vehicle.c.owner_pin.in_(pins)))
    conn.execute(delete(store.real_estate).where(store.real_estate.c.owner_pin.in_(pins)))
    conn.execute(delete(store.security_holding).where(store.security_holding.c.owner_pin.in_(pins)))
    conn.execute(delete(store.income).where(store.income.c.pin.in_(pins)))
    conn.execute(delete(store.alimony_paid).where(store.alimony_paid.c.pin.in_(pins)))
    adults = conn.scalars(select(store.person.c.pin).where(
        store.person.c.pin.in_(pins), store.person.c.birth_date <= date(today.year - 18, today.month, 1))).all()
    months = [month_of(today, -n) for n in range(1, 13)]
    if adults:
        conn.execute(insert(store.income), [{"pin": pin, "source": "salary", "month": month, "amount": MONTHLY_SALARY}
                                            for pin in adults for month in months])


def _register(family: list[tuple]) -> bool:
    """Register and submit as the demo registrar; collection and the means test run after the commit."""
    from modules.registration.operations import RegistrationError, register_application
    from modules.registration.schemas import ApplicationArgs

    registrar = db.session.scalar(select(User).where(User.username == "registrar"))
    (head, _), *others = family
    payload = {"applicant_pin": head.pin, "phone": "+998901234567", "channel": "mahalla", "programmes": [PROGRAMME],
               "members": [{"pin": person.pin, "relation": relation.value} for person, relation in others]}
    try:
        with unit_of_work():  # collection and the means test run after its commit
            register_application(ApplicationArgs().load(payload), registrar)
    except RegistrationError as refusal:
        log.info("demo month: family of %s not registered: %s", head.pin, refusal)
        return False
    return True


def _prepare_payroll(today: date) -> dict:
    """Next month's payroll of the region, generated and checked by the demo finance maker."""
    from modules.enrolment.banking import sync_accounts
    from modules.payments.checks import run_checks
    from modules.payments.generation import generate

    with unit_of_work():
        sync_accounts()  # the bank issues the cards by the time it is asked again
    with unit_of_work():
        maker = db.session.scalar(select(User).where(User.username == "finance.maker"))
        period = month_of(today, 1)
        payroll = generate(PROGRAMME, REGION, period, maker)
        run_checks(payroll, maker)
    return {"payroll": payroll.id, "period": period, "lines": payroll.line_count, "total": str(payroll.total_amount)}
