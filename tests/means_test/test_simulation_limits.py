"""The policy simulation refuses drafts and parameters it cannot honour, saying why, before any work is done."""

from __future__ import annotations

import io

import pytest

from rules.pack import PACK_DIR, PackError, get_pack, load_pack
from tests import factories
from tests.conftest import sign_in

# Three levels of nine aliases: 729 strings from a few lines; each further level multiplies by nine.
ALIAS_BOMB = """id: uz
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
"""


UZ_TEXT = (PACK_DIR / "uz.yaml").read_text(encoding="utf-8")


@pytest.fixture
def analyst_client(client):
    return sign_in(client, factories.make_user("analyst", national=True))


def test_a_pack_with_aliases_is_refused_before_it_expands():
    with pytest.raises(PackError) as refused:
        load_pack("draft.yaml", text=ALIAS_BOMB)
    assert refused.value.kind == "alias"


def test_the_page_refuses_an_alias_draft_in_words(analyst_client):
    response = analyst_client.post("/policy/simulate", data={
        "csrf_token": analyst_client.csrf, "pack": "uz", "draft_file": (io.BytesIO(ALIAS_BOMB.encode()), "d.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "YAML aliases" in response.get_data(as_text=True) and "Results" not in response.get_data(as_text=True)


def test_a_negative_threshold_is_refused_next_to_its_field(analyst_client):
    response = analyst_client.post("/policy/simulate", data={"csrf_token": analyst_client.csrf, "pack": "uz",
                                                             "param-income_threshold": "-648000"})
    assert response.status_code == 422
    assert "Enter a number that is not negative." in response.get_data(as_text=True)


def test_a_draft_pack_with_a_negative_amount_is_refused(analyst_client):
    draft = UZ_TEXT.replace("value: 648000", "value: -648000")
    response = analyst_client.post("/policy/simulate", data={"csrf_token": analyst_client.csrf, "pack": "uz",
                                                             "draft_text": draft})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "must not be negative" in page


def test_an_unknown_parameter_is_named_not_ignored(analyst_client):
    response = analyst_client.post("/policy/simulate", data={"csrf_token": analyst_client.csrf, "pack": "uz",
                                                             "param-income_treshold": "700000"})
    assert response.status_code == 422
    assert "does not have" in response.get_data(as_text=True)


def test_a_negative_change_is_refused_by_the_rules_layer_too():
    version = get_pack("uz").versions[-1]
    with pytest.raises(PackError) as refused:
        version.with_parameters({"income_threshold": -1})
    assert refused.value.kind == "negative" and refused.value.subject == "income_threshold"
