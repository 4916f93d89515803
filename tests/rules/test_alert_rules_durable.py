"""Alert rules decided by durable_rules (rules/durable_events.py, behind the means test's adapter) agree with the
scalar evaluator over many generated events, for every pack and every event kind, with the packs' own conditions
and with harder ones (negation, arithmetic, functions hoisted before posting)."""

from __future__ import annotations

import random
import threading

import pytest

from rules import durable_events
from rules.alerts import EVENT_FIELDS, EventError, matching, matching_scalar
from rules.durable import get_engine
from rules.pack import PACK_DIR, get_pack, load_pack, pack_ids

# Numbers around the thresholds the packs use (0, 2 working days, 30 days) and far from them.
NUMBERS = (-1, 0, 0.5, 1, 2, 2.5, 3, 9, 10, 29, 30, 30.5, 31, 100, 99_999.5, 100_000, 1_000_000)


def _events(kind: str, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        event = {"kind": kind}
        for name, type_ in EVENT_FIELDS[kind].items():
            event[name] = rng.random() < 0.5 if type_ == "bool" else rng.choice(NUMBERS)
        events.append(event)
    return events


def _ids(rules) -> list[str]:
    return [rule.id for rule in rules]


@pytest.mark.parametrize("pack_id", pack_ids())
def test_durable_rules_and_the_scalar_evaluator_agree_on_the_packs_alert_rules(pack_id):
    pack = get_pack(pack_id)
    raised = 0
    for number, kind in enumerate(sorted(EVENT_FIELDS)):
        for event in _events(kind, 150, seed=number):
            expected = _ids(matching_scalar(pack, event))
            assert _ids(matching(pack, event)) == expected, event
            raised += bool(expected)
    assert raised > 100  # the generated events raise alerts as well as not


HARDER = {
    "when: amount > 0": "when: not returned and amount / 2 >= 50000 or (returned and not (amount < 1))",
    "when: days_left <= 30": "when: max(days_left, 0) * 2 <= 60 and (monthly_amount > 0 or days_left < 3)",
    "when: working_days > 2": "when: working_days - 2 > 0 and not working_days >= 31",
    "when: household_enrolled\n": "when: household_enrolled or children + 1 >= 3\n",
    "when: enrolled or household_enrolled": "when: (enrolled or household_enrolled) and not (age == 0.5)",
}


def test_harder_conditions_agree_too_and_get_a_ruleset_of_their_own():
    text = (PACK_DIR / "uz.yaml").read_text(encoding="utf-8")
    for old, new in HARDER.items():
        assert old in text, old
        text = text.replace(old, new)
    harder, plain = load_pack(PACK_DIR / "uz.yaml", text), get_pack("uz")
    for kind in EVENT_FIELDS:
        rules = [rule for rule in harder.alerts if rule.event == kind]
        assert durable_events.ruleset_name(harder, kind, rules) != durable_events.ruleset_name(
            plain, kind, [rule for rule in plain.alerts if rule.event == kind])
    differ = 0
    for number, kind in enumerate(sorted(EVENT_FIELDS)):
        for event in _events(kind, 200, seed=100 + number):
            expected = _ids(matching_scalar(harder, event))
            assert _ids(matching(harder, event)) == expected, event
            differ += expected != _ids(matching_scalar(plain, event))
    assert differ > 0  # the harder conditions decide otherwise than the pack's, and each pack keeps its own


def test_an_event_kind_without_rules_raises_nothing_and_a_bad_event_is_refused():
    pack = get_pack("uz")
    without = load_pack(PACK_DIR / "uz.yaml", (PACK_DIR / "uz.yaml").read_text(encoding="utf-8")
                        .split("\nalerts:\n")[0] + "\n")
    assert without.alerts == []
    assert matching(without, {"kind": "verification_stuck", "working_days": 9}) == []
    with pytest.raises(EventError):
        matching(pack, {"kind": "verification_stuck"})
    with pytest.raises(EventError):
        matching(pack, {"kind": "no_such_event"})


def test_threads_sharing_the_engine_get_their_own_verdicts():
    pack = get_pack("uz")
    events = _events("recertification_due", 60, seed=7) + _events("birth_reported", 60, seed=8)
    expected = [_ids(matching_scalar(pack, event)) for event in events]
    failures = []

    def work(offset: int):
        for index in range(offset, len(events), 4):
            if _ids(matching(pack, events[index])) != expected[index]:
                failures.append(events[index])

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_alert_rulesets_are_registered_once_beside_the_means_test_versions():
    engine = get_engine()
    pack = get_pack("uz")
    matching(pack, {"kind": "payment_failed", "returned": True, "amount": 1})
    names = set(engine._rulesets)
    matching(pack, {"kind": "payment_failed", "returned": False, "amount": 0})
    assert set(engine._rulesets) == names
    assert all(name.startswith("srsp_alerts_") for name in names)
    assert not any(name.startswith("srsp_alerts_") for name in (c.name for c in engine._compiled.values()))
