"""Batch recertification: due households re-assessed with pandas, identical to the real-time engine, once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import select

from modules.means_test.assessment import store_assessment
from modules.means_test.models import Assessment, Decision
from modules.means_test.recertification import due, period_end, recertify
from modules.registration import operations
from modules.registration.schemas import ApplicationArgs
from rules.durable import get_engine
from rules.engines import evaluate
from rules.facts import validate_facts
from rules.pack import get_pack
from tests import factories
from webapp.extensions import db


def _facts(family: dict, monthly_income: int) -> dict:
    people = [("head", family["head"]), ("spouse", family["spouse"])] + [("child", k) for k in family["children"]]
    months = ["2025-08", "2025-09", "2025-10"]
    return {"application_date": "2025-11-10", "members": [
        {"pin": person.pin, "relation": relation, "birth_date": person.birth_date.isoformat(), "sex": person.sex.value,
         "income": [{"source": "salary", "month": m, "amount": monthly_income} for m in months]
         if relation in ("head", "spouse") else []}
        for relation, person in people]}


def _assessed(monthly_income: int, decided: datetime) -> Assessment:
    """An application decided on `decided` from facts with that salary for head and spouse."""
    family = factories.make_family(children=2)
    user = factories.make_user("registrar", national=True)
    application = operations.register_application(ApplicationArgs().load(factories.application_payload(family)),
                                                  user)
    facts = validate_facts(_facts(family, monthly_income))
    result = evaluate(facts, "uz", engine="durable_rules")
    return store_assessment(application, facts, result, "durable_rules", created_at=decided)


def test_due_households_are_reassessed_like_the_real_time_engine_and_only_once(app):
    poor = _assessed(300_000, datetime(2025, 11, 20, 8, tzinfo=UTC))  # 4 members: 150,000 per person
    richer = _assessed(1_400_000, datetime(2025, 11, 20, 8, tzinfo=UTC))  # ineligible: never due
    recent = _assessed(300_000, datetime(2026, 10, 20, 8, tzinfo=UTC))  # period runs to 2027-10
    assert poor.decision is Decision.eligible and richer.decision is Decision.ineligible
    assert period_end(poor) == (2026, 11), "child allowance: 12 months from December 2025"
    as_of = date(2026, 11, 15)
    assert [a.id for a in due(as_of)] == [poor.id]

    ticks = []
    counts = recertify(as_of, chunk=1, progress=lambda done, total: ticks.append((done, total)))
    assert counts == {"due": 1, "eligible": 0, "ineligible": 1} and ticks == [(1, 1)]
    [renewed] = db.session.scalars(select(Assessment).where(Assessment.household_id == poor.household_id,
                                                            Assessment.kind == "recertification")).all()
    # The salary lines on file are for 2025; in the November 2026 window they count nothing: the able-bodied
    # parents now show no income, which is what a recertification must notice.
    assert renewed.engine == "pandas" and renewed.as_of == as_of and renewed.decision is Decision.ineligible
    real_time = get_engine().evaluate(renewed.facts, get_pack("uz").version_for(as_of))
    assert (renewed.decision.value, renewed.reasons, renewed.programmes) == (
        real_time["decision"], real_time["reasons"], real_time["programmes"])
    assert float(renewed.per_capita_income) == real_time["per_capita_income"]
    assert {**renewed.trace, "engine": None} == {**real_time["trace"], "engine": None}

    assert recertify(as_of) == {"due": 0, "eligible": 0, "ineligible": 0}, "a second run changes nothing"
    assert recent.id not in [a.id for a in due(as_of)]


def test_recertify_command_prints_the_counts(app):
    _assessed(300_000, datetime(2025, 11, 20, 8, tzinfo=UTC))
    db.session.commit()
    try:
        result = app.test_cli_runner().invoke(args=["means-test", "recertify", "--as-of", "2026-12-01"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output.strip().splitlines()[-1]) == {"due": 1, "eligible": 0, "ineligible": 1}
        bad = app.test_cli_runner().invoke(args=["means-test", "recertify", "--as-of", "2026-13-01"])
        assert bad.exit_code == 2 and "2026-13-01" in bad.output
    finally:
        db.session.rollback()
