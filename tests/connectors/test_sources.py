"""Every one of the 13 connectors against the live simulator: records of the kinds it declares, per PIN."""

from __future__ import annotations

import pytest

from connectors.base import income_window
from connectors.catalog import SOURCES
from connectors.registry import connectors_for
from tests.means_test.conftest import AS_OF, family_pins, simulator, simulator_store, sources_at  # noqa: F401


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.name)
def test_connector_reads_its_registry(app, sources_at, family_pins, source):  # noqa: F811
    connector = connectors_for(app)[source.name]
    outcomes = connector.fetch(family_pins + ["30101010010016"], window=income_window(AS_OF), user_id="UZ/tester")
    assert set(outcomes) == set(family_pins) | {"30101010010016"}
    assert all(outcome.answered for outcome in outcomes.values()), {p: o.error for p, o in outcomes.items()}
    assert outcomes["30101010010016"].status == "not_found", "a PIN the registry does not know"
    for pin in family_pins:
        outcome = outcomes[pin]
        assert outcome.request_id and outcome.attempts >= 1
        assert {record.kind for record in outcome.records} <= set(source.record_kinds)
        assert all(getattr(record, "pin", getattr(record, "owner_pin", None)) == pin for record in outcome.records)
    if source.name == "population":
        assert all(any(r.kind == "identity" for r in outcomes[pin].records) for pin in family_pins)
        links = [r for r in outcomes[family_pins[0]].records if r.kind == "family_link"]
        assert {link.related_pin for link in links} == set(family_pins) - {family_pins[0]}
