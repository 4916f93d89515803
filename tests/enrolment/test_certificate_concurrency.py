"""Citizens downloading their certificates at the same moment, each in their own session, on PostgreSQL: every
household gets one under its own status-list index. Half of the requests audit a page view before they issue (so
they hold the audit chain's lock, which is kept to the commit, while they insert), half issue first: two of them
taking the same index would wait on each other's row and lock, a deadlock."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select, text

from modules.enrolment.certificates import operations
from modules.enrolment.certificates.models import Certificate
from modules.registration.models import Household
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from webapp import audit
from webapp.extensions import db
from webapp.timeutil import local_today

HOUSEHOLDS = 6


def _race(app, household_ids: list[int]) -> dict:
    barrier, results = threading.Barrier(len(household_ids)), {}

    def download(household_id):
        with app.app_context():
            try:
                household = db.session.get(Household, household_id)
                barrier.wait(timeout=30)
                if household_id % 2:
                    audit.record("portal.viewed", "household", household_id, {"page": "certificate"})
                certificate, document = operations.download(household, "uz")
                assert document.startswith(b"%PDF")
                results[household_id] = certificate.status_index
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - the race's outcome is what the test reads
                db.session.rollback()
                results[household_id] = repr(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=download, args=(household_id,)) for household_id in household_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="needs PostgreSQL")
def test_households_downloading_at_once_each_get_a_certificate_with_its_own_index(app):
    today = local_today()
    families = []
    for _ in range(HOUSEHOLDS):
        family = factories.assessed_family()
        factories.enrol(family, start=date(today.year, today.month, 1), months=12)
        families.append(family)
    db.session.commit()
    ids = [{"application": f["application"].id, "household": f["household"].id,
            "persons": [p.id for p in (f["head"], f["spouse"], *f["children"])]} for f in families]
    db.session.remove()
    try:
        results = _race(app, [family["household"] for family in ids])
        assert all(isinstance(index, int) for index in results.values()), results
        assert len(set(results.values())) == HOUSEHOLDS
    finally:
        db.session.rollback()
        households = [family["household"] for family in ids]
        for certificate in db.session.scalars(select(Certificate).where(Certificate.household_id.in_(households))):
            db.session.execute(text("DELETE FROM certificate WHERE id = :id"), {"id": certificate.id})
        for family in ids:
            factories.remove_family(family)
        db.session.commit()
