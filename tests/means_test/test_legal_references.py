"""Legal references cite the act and the part of it, in the reader's language: never a design document or a
research note, and the decision page shows them."""

from __future__ import annotations

import re

import pytest
import yaml

from modules.means_test.assessment import store_assessment
from modules.registration import operations
from modules.registration.schemas import ApplicationArgs
from rules.cases import load_cases
from rules.engines import evaluate
from rules.pack import PACK_DIR, get_pack, pack_ids
from tests import factories
from tests.conftest import sign_in

NOT_A_LEGAL_SOURCE = re.compile(r"seed|design|§", re.IGNORECASE)
RESOLUTION_308 = {
    "en": "Resolution of the Cabinet of Ministers of the Republic of Uzbekistan No. 308",
    "ru": "Постановление Кабинета Министров Республики Узбекистан № 308",
    "uz": "Oʻzbekiston Respublikasi Vazirlar Mahkamasining 308-son qarori",
}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("pack_id", pack_ids())
def test_no_pack_cites_a_design_document_or_a_seed(pack_id):
    text = (PACK_DIR / f"{pack_id}.yaml").read_text(encoding="utf-8")
    cited = [line for line in text.splitlines() if NOT_A_LEGAL_SOURCE.search(line)]
    assert not cited, cited
    assert not [s for s in _strings(yaml.safe_load(text)) if NOT_A_LEGAL_SOURCE.search(s)]


@pytest.mark.parametrize("pack_id", pack_ids())
def test_every_rule_and_programme_names_its_act_in_every_language_of_the_pack(pack_id):
    pack = get_pack(pack_id)
    for item in [*pack.rules, *pack.programmes]:
        reference = item.reference
        assert reference.act.id in pack.acts and reference.part, item
        for language in pack.languages:
            assert reference.act.title.get(language) and reference.part.get(language), (item, language)
            assert reference.text(language).startswith(reference.act.title[language])


def test_the_stored_trace_cites_the_act():
    case = next(case for case in load_cases("uz") if case.expect["decision"] == "ineligible")
    result = evaluate(case.facts, "uz", case.as_of)
    legal = {rule["rule"]: rule["legal"] for rule in result["trace"]["rules"]}
    assert legal["income_above_threshold"].startswith(RESOLUTION_308["en"] + " (Single Registry")
    assert "income per family member compared with the income threshold" in legal["income_above_threshold"]


@pytest.fixture
def decided(app, registrar):
    """A registered application with an eligible child-allowance assessment whose trace was stored before the
    references were acts (its rules still say "DESIGN §5" and "Seed 002")."""
    family = factories.make_family()
    application = operations.register_application(
        ApplicationArgs().load(factories.application_payload(family)), registrar)
    case = next(case for case in load_cases("uz") if case.name == "eligible-couple-two-children")
    result = evaluate(case.facts, "uz", case.as_of)
    assert "child_allowance" in [p["code"] for p in result["programmes"]]
    old = ["Means-test regulation — per-capita income must not exceed the threshold (DESIGN §5)",
           'Seed 002 — "Improving eligibility criteria to minimize exclusion errors" (eight exemptions)']
    rules = result["trace"]["rules"]
    result["trace"]["rules"] = [{**rule, "legal": old[index % 2]} for index, rule in enumerate(rules)]
    store_assessment(application, case.facts, result, "pandas")
    return application


@pytest.mark.parametrize("language", ["en", "ru", "uz"])
def test_the_decision_page_shows_the_act_and_never_the_old_design_references(app, client, decided, language):
    reader = factories.make_user("registrar", areas=["UZ-TK"], language=language)
    sign_in(client, reader)
    page = client.get(f"/applications/{decided.id}").get_data(as_text=True)
    assert RESOLUTION_308[language] in page
    assert "DESIGN" not in page and "Seed" not in page and "§" not in page
    reform = {"en": "Reform of child benefits for low-income families", "ru": "Реформа пособий на детей",
               "uz": "bolalar nafaqalari islohoti"}
    assert reform[language] in page  # the child allowance's own act, under the programme
