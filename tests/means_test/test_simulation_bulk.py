"""The simulation over facts read in bulk: the same report as over the documents read one by one, and `as_of`
choosing the version for every household."""

from __future__ import annotations

from datetime import date

from modules.means_test import bulk_facts
from modules.means_test.simulation import simulate
from rules.pack import get_pack
from rules.vectorised import evaluate_documents
from tests.means_test.conftest import RAISED


def test_the_report_is_the_same_as_over_the_documents_one_by_one(households, monkeypatch):  # noqa: F811
    bulk = simulate("uz", RAISED).to_dict()
    def one_by_one(pack_id, user=None, region=None):
        return bulk_facts._from_documents(bulk_facts.latest_selection(pack_id, user, region))

    monkeypatch.setattr(bulk_facts, "latest_facts", one_by_one)
    assert simulate("uz", RAISED).to_dict() == bulk


def test_as_of_evaluates_every_household_under_the_version_of_that_day(households):  # noqa: F811
    on = date(2022, 5, 10)
    report = simulate("uz", {}, as_of=on)
    documents = [item.facts for item in sorted(households.values(), key=lambda item: item.household_id)]
    expected = evaluate_documents(documents, get_pack("uz").version_for(on))
    eligible = sum(result["decision"] == "eligible" for result in expected)
    assert report.eligible_before == report.eligible_after == eligible
    assert report.changed == []
