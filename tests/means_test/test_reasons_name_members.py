"""A reason about members names them: "able-bodied members without income" says who, on the application page and
in the trace the rule engines store (both engines alike), with the plural of the reader's language."""

from __future__ import annotations

import html
import re

import flask_babel
import pytest

from modules.means_test.explain import explain
from rules.engines import evaluate
from rules.facts import validate_facts
from tests import factories
from tests.conftest import sign_in

RULE = "able_bodied_without_income"


def _rule(explained: dict, rule_id: str = RULE) -> dict:
    return next(item for item in explained["rules"] if item["id"] == rule_id)


def _salary_for(person) -> dict:
    return {person.pin: {"income": [{"source": "salary", "month": m, "amount": 900_000}
                                    for m in factories.INCOME_MONTHS]}}


@pytest.mark.parametrize("engine", ["durable_rules", "pandas"])
def test_the_trace_names_the_members_a_fired_rule_is_about(app, engine):
    family = factories.make_family(children=2)
    facts = validate_facts(factories.income_facts(family, 0, _salary_for(family["spouse"])))
    result = evaluate(facts, "uz", engine=engine)
    rules = {item["rule"]: item for item in result["trace"]["rules"]}
    assert rules[RULE]["fired"] and rules[RULE]["members"] == [family["head"].pin]
    assert all(item["members"] == [] for rule_id, item in rules.items() if rule_id != RULE)


def test_the_reason_names_the_one_member_without_income(app):
    family = factories.make_family(children=2)
    assessment = factories.decided_assessment(family, monthly_income=0, extra=_salary_for(family["spouse"]))
    with app.test_request_context(headers={"Accept-Language": "en"}):
        flask_babel.refresh()  # the test's app context may hold the locale an earlier call chose
        rule = _rule(explain(assessment))
    head, spouse = family["head"], family["spouse"]
    assert rule["fired"] and f"Concerns 1 member: {head.full_name} (PIN …{head.pin[-4:]})." in rule["message"]
    assert spouse.full_name not in rule["message"] and head.pin not in rule["message"]  # the PIN is shortened
    assert "(s)" not in rule["message"]


def test_the_reason_names_every_member_without_income_in_the_plural(app):
    family = factories.make_family(children=2)
    assessment = factories.decided_assessment(family, monthly_income=0)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        flask_babel.refresh()  # the test's app context may hold the locale an earlier call chose
        rule = _rule(explain(assessment))
    head, spouse = family["head"], family["spouse"]
    assert (f"Concerns 2 members: {head.full_name} (PIN …{head.pin[-4:]}), "
            f"{spouse.full_name} (PIN …{spouse.pin[-4:]}).") in rule["message"]


def test_the_application_page_names_members_in_the_reason_and_the_facts_table(app, client):
    registrar = factories.make_user("registrar", areas=["UZ-TK"])
    family = factories.make_family(children=1)
    assessment = factories.decided_assessment(family, monthly_income=0, extra=_salary_for(family["spouse"]))
    sign_in(client, registrar)
    page = html.unescape(client.get(f"/applications/{assessment.application_id}").get_data(as_text=True))
    reason = re.search(rf'data-rule="{RULE}">(.*?)</li>', page, re.S).group(1)
    assert f"Concerns 1 member: {family['head'].full_name}" in reason
    table = page[page.index("Family members as the rules saw them"):]
    table = table[:table.index("</table>")]
    for person in (family["head"], family["spouse"], *family["children"]):
        assert re.search(rf'<tr class="member"><td>{re.escape(person.full_name)}</td><td>{person.pin}</td>', table)
