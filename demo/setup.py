"""Demo set-up for `make run`: one user per role, a few families to show in the start-up banner, past decisions.

The demo population itself is the synthetic one (connectors/synthetic.py), copied from the simulator.
"""

from __future__ import annotations

from sqlalchemy import select

from modules.registration.models import Household, Relation
from webapp.auth.operations import create_user
from webapp.boundary import unit_of_work
from webapp.extensions import db
from webapp.models import Area, Role, User

DEMO_PASSWORD_SUFFIX = "-demo-2026"
# (username, role, full name, area codes, national scope)
DEMO_USERS = [
    ("admin", Role.admin, "Admin Adminov", [], True),
    ("registrar", Role.registrar, "Gulnora Registratorova", ["UZ-TK"], False),
    ("registrar.sam", Role.registrar, "Sardor Samarqandiy", ["UZ-SA"], False),
    ("mahalla", Role.mahalla_worker, "Nodira Mahallayeva", ["UZ-TK-01"], False),
    ("social", Role.social_worker, "Rustam Ijtimoiy", ["UZ-TK"], False),
    ("finance.maker", Role.finance_maker, "Feruza Moliyaviy", [], True),
    ("finance.checker", Role.finance_checker, "Aziz Nazoratchi", [], True),
    ("analyst", Role.analyst, "Malika Tahlilchi", [], True),
    ("auditor", Role.auditor, "Temur Auditov", [], True),
]


def demo_password(username: str) -> str:
    return username.replace(".", "-") + DEMO_PASSWORD_SUFFIX


def create_demo_users() -> list[tuple[str, str, str]]:
    """Create the demo users that are missing; returns (username, password, role) for all of them."""
    existing = set(db.session.scalars(select(User.username)))
    for username, role, full_name, areas, national in DEMO_USERS:
        if username not in existing:
            create_user(username, demo_password(username), role, full_name, areas, national_scope=national)
    return [(username, demo_password(username), role.value) for username, role, *_rest in DEMO_USERS]


def sample_families(region_code: str, limit: int = 3) -> list[list[tuple[str, str, str]]]:
    """A few demo families in a region as [(pin, relation, name)], head first, for the start-up banner."""
    region = db.session.scalar(select(Area).where(Area.code == region_code))
    households = db.session.scalars(
        select(Household).join(Area, Household.area_id == Area.id)
        .where(Area.path.startswith(region.path)).order_by(Household.id).limit(limit)).all()
    order = list(Relation)
    return [[(m.person.pin, m.relation.value, m.person.full_name)
             for m in sorted(h.members, key=lambda m: order.index(m.relation))] for h in households]


def decide_demo_history(per_registrar: int = 15) -> int:
    """Register and decide a few applications (collection and means test against the simulator, as a registrar
    would), so the analysts' policy simulation and the outbox have something to show. Skips families the banner
    offers for trying by hand, and does nothing when decisions exist already. Returns how many were decided."""
    from modules.means_test.models import Assessment
    from modules.registration.operations import RegistrationError, register_application
    from modules.registration.schemas import ApplicationArgs

    if db.session.scalar(select(Assessment.id).limit(1)) is not None:
        return 0
    decided = 0
    for username, region in (("registrar", "UZ-TK"), ("registrar.sam", "UZ-SA")):
        user = db.session.scalar(select(User).where(User.username == username))
        for family in sample_families(region, limit=per_registrar + 3)[3:]:
            (head, _relation, _name), *others = family
            payload = {"applicant_pin": head, "phone": "+998901234567", "channel": "mahalla",
                       "programmes": ["child_allowance"],
                       "members": [{"pin": pin, "relation": relation if relation != "head" else "other"}
                                   for pin, relation, _name in others]}
            try:
                with unit_of_work():  # collection and the means test run after its commit
                    register_application(ApplicationArgs().load(payload), user)
                decided += 1
            except RegistrationError:
                pass  # e.g. a member the register reports deceased: the next family
    return decided
