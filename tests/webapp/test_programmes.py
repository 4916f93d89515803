"""Programmes come from the rule packs: every pack's programmes are rows, loading is idempotent, and only the
country's pack is offered and decides an application."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import select

from modules.registration import operations
from modules.registration.schemas import ApplicationArgs
from rules.pack import get_pack, pack_ids
from tests import factories
from webapp.extensions import db
from webapp.models import Programme
from webapp.programmes import load_programmes, offered_programmes, rule_pack_of

ROOT = Path(__file__).resolve().parents[2]


def _rows() -> dict[str, Programme]:
    return {programme.code: programme for programme in db.session.scalars(select(Programme))}


def test_every_pack_programme_is_a_row_named_from_the_pack(app):
    rows = _rows()
    for pack_id in pack_ids():
        for declared in get_pack(pack_id).programmes:
            row = rows[declared.code]
            assert row.rule_pack == pack_id and row.active
            assert (row.name_ru, row.name_en) == (declared.name["ru"], declared.name["en"])
    assert rows["child_allowance"].name_uz == "Bolalar nafaqasi"
    # kg writes no Uzbek: the Uzbek page reads the English name rather than Kyrgyz
    assert rows["uy_bulogo_komok"].name_uz == rows["uy_bulogo_komok"].name_en \
        == "Monthly benefit for low-income families with children"


def test_loading_again_adds_nothing_updates_names_and_deletes_nothing(app):
    rows = _rows()
    rows["maternity"].name_en = "An old name"
    extra = Programme(code="retired_benefit", rule_pack="uz", name_uz="x", name_ru="x", name_en="x", active=False)
    db.session.add(extra)
    db.session.flush()

    assert load_programmes() == 0
    rows = _rows()
    assert rows["maternity"].name_en == "Maternity benefit (non-state sector)"
    assert "retired_benefit" in rows
    assert len([code for code in rows if code != "retired_benefit"]) == sum(
        len(get_pack(pack_id).programmes) for pack_id in pack_ids())


def test_only_the_countrys_programmes_are_offered(app, monkeypatch):
    assert [p.code for p in offered_programmes()] == [p.code for p in get_pack("uz").programmes]
    monkeypatch.setitem(app.config, "COUNTRY", "kg")
    assert [p.code for p in offered_programmes()] == ["uy_bulogo_komok"]


def test_registration_refuses_another_countrys_programme(app, registrar):
    family = factories.make_family()
    args = ApplicationArgs().load(factories.application_payload(family, programmes=["uy_bulogo_komok"]))
    with pytest.raises(operations.RegistrationError) as refusal:
        operations.register_application(args, registrar)
    assert "uy_bulogo_komok" in " ".join(str(message) for message in refusal.value.errors["programmes"])


def test_the_programmes_applied_for_choose_the_rule_pack(app, monkeypatch):
    rows = _rows()
    assert rule_pack_of([rows["child_allowance"], rows["maternity"]]) == "uz"
    assert rule_pack_of([rows["uy_bulogo_komok"]]) == "kg"
    monkeypatch.setitem(app.config, "COUNTRY", "kg")
    assert rule_pack_of([]) == "kg"
    with pytest.raises(ValueError, match="different rule packs"):
        rule_pack_of([rows["child_allowance"], rows["uy_bulogo_komok"]])


def _string_lists(tree: ast.AST):
    """The strings of every list, tuple and set literal, and the keys of every dict literal."""
    for node in ast.walk(tree):
        elements = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            yield {element.value for element in elements
                   if isinstance(element, ast.Constant) and isinstance(element.value, str)}


def test_no_production_code_lists_the_programmes():
    """The packs are the list: no module outside rules/ holds two programme codes in one literal list, tuple, set
    or dict (as the enrolment's table of programmes paid per child, per disabled child and per mother once did)."""
    codes = {p.code for pack_id in pack_ids() for p in get_pack(pack_id).programmes}
    listed = []
    for folder in ("webapp", "modules", "connectors"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for values in _string_lists(ast.parse(path.read_text(encoding="utf-8"))):
                if len(values & codes) >= 2:
                    listed.append(f"{path.relative_to(ROOT)}: {sorted(values & codes)}")
    assert not listed, listed
