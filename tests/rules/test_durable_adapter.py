"""The durable_rules adapter's guards (DESIGN §5, rules/durable.py): zero members refused before posting, numbers
posted as floats, exactly one verdict per check (and an EngineError when the engine breaks that), unique message
ids, one registration per pack version, no timer threads, and a lock that makes threaded use safe."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from durable import engine as durable_engine

from rules import durable, vectorised
from rules.durable import DurableEngine, _Check, _Compiler, get_engine
from rules.evaluation import EngineError, EngineInputError
from rules.pack import PACK_DIR, get_pack, load_pack

ROOT = Path(__file__).resolve().parents[2]
UZ_2026 = date(2026, 11, 10)


def member(pin: str, relation: str, birth: str, sex: str, income: int = 0, **extra) -> dict:
    lines = [{"source": "salary", "month": month, "amount": income} for month in ("2026-08", "2026-09", "2026-10")]
    return {"pin": pin, "relation": relation, "birth_date": birth, "sex": sex, "income": lines if income else [],
            "alimony_paid": [], "disability_group": None, "statuses": [], **extra}


def family(income: int = 600_000, **household) -> dict:
    """A mother with an integer monthly salary (per-capita income: half of it), her son; integer vehicle year and
    securities. Eligible unless the salary is too high."""
    return {"application_date": UZ_2026.isoformat(),
            "members": [member("31502850170012", "head", "1985-04-02", "F", income),
                        member("51003200170034", "child", "2020-03-10", "M")],
            "vehicles": [{"owner_pin": "31502850170012", "year": 2012, "kind": "passenger"}],
            "real_estate": [{"owner_pin": "31502850170012", "kind": "residential"}],
            "securities_value": 1000, **household}


def uz(on: date = UZ_2026):
    return get_pack("uz").version_for(on)


class Spy:
    """Records what reaches the host (a deep copy of every posted message, every registration), then passes on."""

    def __init__(self, monkeypatch, engine: DurableEngine, check=None):
        self.posts, self.registrations, self.engine, self.check = [], [], engine, check
        host = engine._host
        post, register = host.post, host.register_rulesets

        def spy_post(name, messages, *args, **kwargs):
            if self.check:
                self.check()
            self.posts.append((name, copy.deepcopy(messages)))
            return post(name, messages, *args, **kwargs)

        def spy_register(definitions):
            if self.check:
                self.check()
            self.registrations.append(sorted(definitions))
            return register(definitions)

        monkeypatch.setattr(host, "post", spy_post)
        monkeypatch.setattr(host, "register_rulesets", spy_register)

    @property
    def messages(self) -> list[dict]:
        return [message for _, messages in self.posts for message in messages]


def public(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "trace"}


# -- zero members -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("members", [[], None, "absent"])
def test_a_household_without_members_is_refused_before_the_host_is_touched(monkeypatch, members):
    facts = family()
    if members == "absent":
        del facts["members"]
    else:
        facts["members"] = members
    for engine in (DurableEngine(), get_engine()):
        spy = Spy(monkeypatch, engine)
        derived = []
        monkeypatch.setattr(durable, "derive", lambda *args, seen=derived: seen.append(args))
        with pytest.raises(EngineInputError, match="members: a household needs at least one member"):
            engine.evaluate(facts, uz())
        assert spy.posts == [] and spy.registrations == [] and derived == []
        monkeypatch.undo()
    assert DurableEngine()._compiled == {}


# -- floats -------------------------------------------------------------------------------------------------------


def numbers(message: dict) -> list:
    return [value for key, value in message.items() if key not in ("id", "check") and not isinstance(value, bool)]


def test_integer_inputs_are_posted_as_floats(monkeypatch):
    engine = DurableEngine()
    spy = Spy(monkeypatch, engine)
    facts = family()
    assert isinstance(facts["members"][0]["income"][0]["amount"], int)
    result = engine.evaluate(facts, uz())
    assert result["decision"] == "eligible"
    values = [value for message in spy.messages for value in numbers(message)]
    assert len(values) >= 10
    assert all(type(value) is float for value in values), [v for v in values if type(v) is not float]


def test_the_adapter_posts_floats_even_when_the_derivation_gives_integers(monkeypatch):
    """The guard in the adapter itself: household values made ints on purpose still reach the host as floats."""
    engine = DurableEngine()
    spy = Spy(monkeypatch, engine)
    derive = durable.derive

    def integer_derive(version, facts):
        household, members = derive(version, facts)
        return {k: int(v) if type(v) is float and v.is_integer() else v for k, v in household.items()}, members

    monkeypatch.setattr(durable, "derive", integer_derive)
    version = dividing_version()
    result = engine.evaluate(crowded(), version)
    assert all(type(value) is float for message in spy.messages for value in numbers(message))
    assert "dwellings_below_members_per_car" in [reason["rule"] for reason in result["reasons"]]


DIVIDING_RULE = """\
  - id: dwellings_below_members_per_car
    when: residential_properties < members / passenger_cars
    outcome: ineligible
    reason: {en: "{residential_properties} dwellings for {members} members."}
    reference: {act: state_benefits_law}
"""


def dividing_version():
    """kg with one more rule whose durable_rules condition divides one message field by another."""
    text = (PACK_DIR / "kg.yaml").read_text(encoding="utf-8").replace("\nrules:\n", "\nrules:\n" + DIVIDING_RULE, 1)
    return load_pack(Path("dividing-kg.yaml"), text=text).versions[-1]


def crowded() -> dict:
    """5 members, 2 passenger cars, 2 dwellings: 2 < 5 / 2 = 2.5, but not 2 < 5 // 2 = 2."""
    facts = family(application_date="2026-11-10")
    facts["members"] += [member(f"6100320017003{index}", "child", "2015-03-10", "F") for index in range(3)]
    facts["vehicles"] = [{"owner_pin": "31502850170012", "year": 2001, "kind": "passenger"}] * 2
    facts["real_estate"] = [{"owner_pin": "31502850170012", "kind": "residential"}] * 2
    return facts


def test_integer_division_in_durable_rules_would_change_the_verdict(monkeypatch):
    engine = DurableEngine()
    spy = Spy(monkeypatch, engine)
    version = dividing_version()
    facts = crowded()
    result = engine.evaluate(facts, version)
    assert result["reasons"][0]["rule"] == "dwellings_below_members_per_car"  # 2 < 2.5
    assert public(vectorised.evaluate_documents([facts], version)[0]) == public(result)

    (posted,) = [m for m in spy.messages if m["check"] == "rule:dwellings_below_members_per_car"]
    assert {k: posted[k] for k in ("residential_properties", "members", "passenger_cars")} == {
        "residential_properties": 2.0, "members": 5.0, "passenger_cars": 2.0}
    compiled = engine.compiled(version)
    for suffix, convert, verdict in (("float", float, True), ("int", int, False)):
        fields = {key: convert(value) for key, value in posted.items() if key not in ("id", "check")}
        again = {"id": f"again-{suffix}", "check": posted["check"], **fields}
        engine._expected = {again["id"]}  # the adapter records verdicts only for the messages it is posting
        engine._host.post(compiled.name, [again])
        assert engine._verdicts.pop(f"again-{suffix}") == [verdict], suffix  # ints: 5 / 2 == 2, not < 2


# -- exactly one verdict ------------------------------------------------------------------------------------------


def generated(count: int, seed: int = 7) -> list[tuple[str, dict]]:
    """Plain random households of both packs (the thorough generator is the differential test's)."""
    rng = random.Random(seed)
    out = []
    for number in range(count):
        pack_id = rng.choice(["uz", "kg"])
        on = date(2022, 1, 1) + timedelta(days=rng.randrange(5 * 365))
        people = []
        for index in range(rng.randint(1, 7)):
            birth = on - timedelta(days=rng.randrange(80 * 365))
            income = rng.choice([0, 0, 1000, 300_000, 2_000_000])
            people.append({
                "pin": f"{number:04d}{index:02d}",
                "relation": rng.choice(["head", "spouse", "child", "child", "other"]),
                "birth_date": birth.isoformat(), "sex": rng.choice("MF"),
                "income": [{"source": "salary", "month": f"{(on.replace(day=1) - timedelta(days=20)):%Y-%m}",
                            "amount": income}],
                "alimony_paid": [], "disability_group": rng.choice([None, None, "2", "child"]),
                "statuses": rng.choice([[], [], ["student"], ["employment_registered"]]),
                "employment_sector": rng.choice([None, "non_state"]),
            })
        pins = [person["pin"] for person in people]
        out.append((pack_id, {
            "application_date": on.isoformat(), "members": people,
            "vehicles": [{"owner_pin": rng.choice(pins), "year": rng.randint(2010, 2026), "kind": "passenger"}
                         for _ in range(rng.randint(0, 2))],
            "real_estate": [{"owner_pin": rng.choice(pins), "kind": rng.choice(["residential", "non_residential"])}
                            for _ in range(rng.randint(0, 2))],
            "securities_value": rng.choice([0, 6_000_000]),
        }))
    return out


def evaluate(engine: DurableEngine, pack_id: str, facts: dict) -> dict:
    return engine.evaluate(facts, get_pack(pack_id).version_for(date.fromisoformat(facts["application_date"])))


def test_every_check_of_every_household_gets_exactly_one_verdict(monkeypatch):
    engine = DurableEngine()
    spy = Spy(monkeypatch, engine)
    calls: dict[str, list[bool]] = {}
    record = engine._record

    def counting(verdict):
        run = record(verdict)

        def counted(c):
            calls.setdefault(c.m["id"], []).append(verdict)
            run(c)

        return counted

    monkeypatch.setattr(engine, "_record", counting)
    households = generated(150)
    for pack_id, facts in households:
        result = evaluate(engine, pack_id, facts)
        pack = get_pack(pack_id)
        fired = [rule["rule"] for rule in result["trace"]["rules"] if rule["fired"]]
        assert [reason["rule"] for reason in result["reasons"]] == fired
        assert result["decision"] == ("ineligible" if fired else "eligible")
        assert [rule["rule"] for rule in result["trace"]["rules"]] == [rule.id for rule in pack.rules]
        assert [p["code"] for p in result["trace"]["programmes"]] == [p.code for p in pack.programmes]
    ids = [message["id"] for message in spy.messages]
    checks = sum(len(get_pack(pack_id).rules) + len(get_pack(pack_id).programmes) for pack_id, _ in households)
    assert len(ids) == checks and set(calls) == set(ids)
    assert all(len(verdicts) == 1 for verdicts in calls.values())
    assert engine._verdicts == {}  # nothing left over
    decisions = {evaluate(engine, *household)["decision"] for household in households}
    assert decisions == {"eligible", "ineligible"}


def test_an_action_that_records_twice_is_an_engine_error(monkeypatch):
    engine = DurableEngine()
    record = engine._record

    def twice(verdict):
        run = record(verdict)
        return lambda c: (run(c), run(c))

    monkeypatch.setattr(engine, "_record", twice)
    with pytest.raises(EngineError, match="durable_rules gave 2 verdicts for rule:income_above_threshold"):
        engine.evaluate(family(), uz())


def dropping(monkeypatch, dropped: str) -> None:
    """Compile every ruleset without one of its durable_rules rules (`c<check>_yes` or `c<check>_no`)."""
    ruleset = _Compiler.ruleset

    def without(self):
        definition, compiled = ruleset(self)
        (rules,) = definition.values()
        del rules[dropped]
        return definition, compiled

    monkeypatch.setattr(_Compiler, "ruleset", without)


@pytest.mark.parametrize("dropped, facts", [
    ("c0_no", family()),  # the income rule's negation, needed when income is below the threshold
    ("c0_yes", family(income=9_000_000)),
    ("c7_yes", family()),  # child_allowance, needed for a household with a child
    ("c8_no", family()),  # material_support's negation
])
def test_a_rule_missing_from_the_registered_ruleset_is_an_engine_error(monkeypatch, dropped, facts):
    dropping(monkeypatch, dropped)
    engine = DurableEngine()
    with pytest.raises(EngineError, match=r"durable_rules gave 0 verdicts for \S+ \(exactly one is required\)"):
        engine.evaluate(facts, uz())


def test_a_check_no_rule_answers_is_an_engine_error(monkeypatch):
    engine = DurableEngine()
    compiled = engine.compiled(uz())
    monkeypatch.setattr(compiled, "checks", [*compiled.checks, _Check("rule:ghost", [])])
    with pytest.raises(EngineError, match="durable_rules gave 0 verdicts"):
        engine.evaluate(family(), uz())


def test_a_negation_that_misses_a_case_is_an_engine_error_not_a_decision(monkeypatch):
    """kg's `per_capita_income >= gmi` with its negation broken into `>`: income below the GMI gets no verdict."""
    monkeypatch.setitem(durable._NEGATED, ">=", ">")
    engine = DurableEngine()
    version = get_pack("kg").version_for(UZ_2026)
    with pytest.raises(EngineError, match="0 verdicts"):
        engine.evaluate(family(income=100), version)


def test_the_engine_error_names_the_check_without_a_verdict(monkeypatch):
    dropping(monkeypatch, "c7_yes")
    with pytest.raises(EngineError) as caught:
        DurableEngine().evaluate(family(), uz())
    assert "programme:child_allowance" in str(caught.value)


def test_a_failed_household_leaves_no_verdicts_behind(monkeypatch):
    dropping(monkeypatch, "c7_yes")
    engine = DurableEngine()
    with pytest.raises(EngineError):
        engine.evaluate(family(), uz())
    childless = family()
    childless["members"] = childless["members"][:1]
    assert engine.evaluate(childless, uz())["decision"] == "eligible"  # the next post runs the refused batch's actions
    assert engine._verdicts == {}


# -- message ids --------------------------------------------------------------------------------------------------


def test_message_ids_are_unique_across_calls_versions_and_engines(monkeypatch):
    first, second = DurableEngine(), get_engine()
    spies = [Spy(monkeypatch, first), Spy(monkeypatch, second)]
    for engine in (first, second, first):
        engine.evaluate(family(), uz())
        engine.evaluate(family(), uz())  # the same household again
        engine.evaluate(family(application_date="2022-05-10"), uz(date(2022, 5, 10)))
        evaluate(engine, *generated(1, seed=3)[0])
    ids = [message["id"] for spy in spies for message in spy.messages]
    assert len(ids) > 40 and len(set(ids)) == len(ids)


def test_repeated_message_ids_are_refused_not_decided(monkeypatch):
    """Why ids must be unique: durable_rules refuses a batch repeating an id, so no decision comes out of it."""
    engine = DurableEngine()
    monkeypatch.setattr(engine, "_ids", iter(lambda: 0, None))  # every message the same id
    with pytest.raises((EngineError, durable_engine.MessageObservedException)):
        engine.evaluate(family(), uz())


# -- registration -------------------------------------------------------------------------------------------------


def test_each_pack_version_is_registered_once_under_a_versioned_name(monkeypatch):
    engine = DurableEngine()
    spy = Spy(monkeypatch, engine)
    engine.evaluate(family(), uz())
    engine.evaluate(family(income=9_000_000), uz())
    assert spy.registrations == [["srsp_uz_v_2024_06"]]
    engine.evaluate(family(application_date="2022-05-10"), uz(date(2022, 5, 10)))
    engine.evaluate(family(application_date="2022-05-10"), uz(date(2022, 5, 10)))
    engine.evaluate(family(), uz())
    assert spy.registrations == [["srsp_uz_v_2024_06"], ["srsp_uz_v_2022_04"]]
    assert [name for name, _ in spy.posts] == ["srsp_uz_v_2024_06"] * 2 + ["srsp_uz_v_2022_04"] * 2 + [
        "srsp_uz_v_2024_06"]


def test_registering_a_ruleset_name_twice_is_what_the_guard_avoids():
    host = durable._QuietHost()
    definition, _ = _Compiler(uz(), lambda verdict: lambda c: None).ruleset()
    host.register_rulesets(copy.deepcopy(definition))
    with pytest.raises(Exception, match="already registered"):
        host.register_rulesets(copy.deepcopy(definition))


def test_what_if_drafts_with_the_same_tag_get_their_own_parameters():
    engine = DurableEngine()
    facts = family(income=1_000_000)  # 500 000 per person and month
    for threshold in (100_000, 1_000_000):
        draft = uz().with_parameters({"income_threshold": threshold})
        expected = public(vectorised.evaluate_documents([facts], draft)[0])
        assert expected["decision"] == ("ineligible" if threshold < 500_000 else "eligible")
        assert public(engine.evaluate(facts, draft)) == expected, threshold


# -- threads ------------------------------------------------------------------------------------------------------


def test_the_engine_starts_no_timer_threads(monkeypatch):
    before = set(threading.enumerate())
    engine = DurableEngine()
    engine.evaluate(family(), uz())
    get_engine().evaluate(family(), uz())
    new = set(threading.enumerate()) - before
    assert not new, new
    assert not [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]

    created = []

    class RecordingTimer:  # stands in for threading.Timer: records, never starts
        def __init__(self, *args, **kwargs):
            created.append(args)
            self.daemon = False

        def start(self):
            pass

    monkeypatch.setattr(threading, "Timer", RecordingTimer)
    DurableEngine().evaluate(family(), uz())
    assert created == []
    durable_engine.Host()  # the control: durable_rules' own Host starts its two polling timers
    assert len(created) == 2


def test_concurrent_evaluation_gives_the_sequential_results():
    households = generated(40, seed=11)
    sequential = [evaluate(DurableEngine(), *household) for household in households]
    engine = DurableEngine()  # fresh: the threads also race to register the pack versions
    start = threading.Barrier(8)
    results: dict[int, list] = {}
    errors = []

    def work(number: int):
        try:
            order = list(range(len(households)))
            random.Random(number).shuffle(order)
            start.wait()
            got = {index: evaluate(engine, *households[index]) for index in order}
            results[number] = [got[index] for index in range(len(households))]
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == list(range(8))
    for number in range(8):
        assert results[number] == sequential, number
    assert engine._verdicts == {}


def test_the_host_is_only_used_under_the_lock(monkeypatch):
    engine = DurableEngine()

    def held():
        assert engine._lock.locked(), "the host was used without the lock"

    spy = Spy(monkeypatch, engine, check=held)
    for household in generated(5, seed=5):
        evaluate(engine, *household)
    assert spy.posts and spy.registrations


# -- non-finite values --------------------------------------------------------------------------------------------


CRASH = """
import json, sys
from pathlib import Path
from rules import vectorised
from rules.durable import DurableEngine
from rules.pack import PACK_DIR, load_pack
text = (PACK_DIR / "kg.yaml").read_text(encoding="utf-8").replace(
    "\\nrules:\\n", "\\n  - {name: per_child, expr: 'income_total / children'}\\nrules:\\n"
    "  - {id: per_child_high, when: per_child > 5, outcome: ineligible, reason: {en: high},"
    " reference: {act: state_benefits_law}}\\n", 1)
version = load_pack(Path("per-child-kg.yaml"), text=text).versions[-1]
facts = json.loads(sys.argv[1])
expected = vectorised.evaluate_documents([facts], version)[0]["decision"]
try:
    got = DurableEngine().evaluate(facts, version)["decision"]
except Exception as error:
    got = type(error).__name__
print(json.dumps([expected, got]))
"""


def test_an_infinite_value_is_refused_instead_of_crashing_the_process():
    """Posted as JSON Infinity, it made durable_rules crash the process (SIGSEGV); the adapter now refuses it."""
    facts = family(income=3000)
    facts["members"] = facts["members"][:1]  # no children: income_total / children = 9000 / 0 = inf
    run = subprocess.run([sys.executable, "-c", CRASH, json.dumps(facts)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"exit status {run.returncode}: {run.stderr[-500:]}"
    _expected, got = json.loads(run.stdout)
    assert got == "EngineInputError"
