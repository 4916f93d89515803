"""The registry simulator over real HTTP: X-Road headers, wire shapes, store values, DCI, faults, notify.

The store is a small synthetic population (connectors.synthetic) plus one hand-made family whose every row is
written here, so the expected answers are literal.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from datetime import date

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask, jsonify, request

from connectors import synthetic, wire
from connectors.catalog import BY_NAME, CLIENT_ID, SOURCES
from connectors.simulator import store
from connectors.simulator.app import DEFAULT_DCI_SENDER_ID, create_simulator_app
from connectors.simulator.cli import register_commands, simulator
from connectors.simulator.faults import FaultConfigError, Faults
from connectors.transport.dci import (
    EVENT_BIRTH,
    EVENT_DEATH,
    SYNC_SEARCH,
    DCIClient,
    DCISchemas,
    Keyring,
    build_ack,
    build_search_request,
    parse_search_response,
    receive_notify,
)
from connectors.transport.errors import SourceMalformed, SourceNotFound, SourceRejected, SourceUnavailable
from connectors.transport.resilience import SourcePolicy
from connectors.transport.xroad import ServiceId, XRoadClient
from tests.connectors.transport import live_server

AS_OF = date(2025, 6, 15)
AREAS = [f"UZ-TK-{district:02d}-M{mahalla:02d}" for district in range(1, 4) for mahalla in range(1, 4)]
SRSP = "srsp.gov.uz"
XROAD_SOURCES = [source.name for source in SOURCES if source.protocol == "xroad"]
HEADERS = {"X-Road-Client": CLIENT_ID, "X-Road-UserId": "UZregistrar1"}


def make_pin(born: date, sex: str, serial: int) -> str:
    """A valid PINFL in district 999, which the generator never uses (so no collision with its people)."""
    century = (3 if born.year < 2000 else 5) + (sex == "F")
    body = f"{century}{born:%d%m}{born.year % 100:02d}999{serial:03d}"
    return body + str(sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(body)) % 10)


HEAD = make_pin(date(1980, 3, 10), "M", 1)
SPOUSE = make_pin(date(1985, 7, 20), "F", 2)
CHILD = make_pin(date(2010, 1, 5), "M", 3)
GRANNY = make_pin(date(1940, 1, 1), "F", 4)
UNKNOWN = make_pin(date(1990, 1, 1), "M", 5)
FAMILY = [HEAD, SPOUSE, CHILD, GRANNY]
MAHALLA, ADDRESS = "UZ-TK-01-M01", "Sinov koʻchasi, 1-uy"


def add_family(engine) -> None:
    """The hand-made family: one row of every kind, with values the tests spell out."""
    household = 10_000
    with engine.begin() as conn:
        conn.execute(store.household.insert().values(id=household, mahalla=MAHALLA, address=ADDRESS, urban=True))
        people = [
            (HEAD, "Testov", "Sobir", "Anvar oʻgʻli", date(1980, 3, 10), "M", None, "head"),
            (SPOUSE, "Testova", "Malika", "Rustam qizi", date(1985, 7, 20), "F", None, "spouse"),
            (CHILD, "Testov", "Aziz", "Sobir oʻgʻli", date(2010, 1, 5), "M", None, "child"),
            (GRANNY, "Testova", "Zuhra", None, date(1940, 1, 1), "F", date(2024, 11, 2), "parent"),
        ]
        for pin, last, first, patronymic, born, sex, died, relation in people:
            conn.execute(store.person.insert().values(
                pin=pin, last_name=last, first_name=first, patronymic=patronymic, birth_date=born, sex=sex,
                death_date=died, phone=None, mahalla=MAHALLA, address=ADDRESS,
                father_pin=HEAD if pin == CHILD else None, mother_pin=SPOUSE if pin == CHILD else None))
            conn.execute(store.family_link.insert().values(pin=pin, related_pin=HEAD, relation=relation,
                                                           household_id=household))
        conn.execute(store.income.insert(), [
            {"pin": HEAD, "source": "salary", "month": m, "amount": a}
            for m, a in (("2025-01", 5_000_000), ("2024-12", 4_900_000), ("2025-02", 5_100_000))] + [
            {"pin": HEAD, "source": "entrepreneurial", "month": "2025-02", "amount": 1_000_000},
            {"pin": HEAD, "source": "property", "month": "2025-03", "amount": 2_500_000},
            {"pin": HEAD, "source": "securities", "month": "2025-04", "amount": 80_000},
            {"pin": SPOUSE, "source": "pension", "month": "2025-02", "amount": 100_000},
            {"pin": SPOUSE, "source": "benefit", "month": "2025-02", "amount": 350_000},
            {"pin": SPOUSE, "source": "benefit", "month": "2025-01", "amount": 350_000},
            {"pin": SPOUSE, "source": "unemployment_benefit", "month": "2025-02", "amount": 900_000},
            {"pin": SPOUSE, "source": "public_works", "month": "2025-03", "amount": 1_400_000},
            {"pin": SPOUSE, "source": "alimony_received", "month": "2025-01", "amount": 700_000},
            {"pin": GRANNY, "source": "pension", "month": "2024-10", "amount": 1_900_000},
        ])
        conn.execute(store.alimony_paid.insert().values(pin=HEAD, month="2025-02", amount=1_250_000))
        conn.execute(store.vehicle.insert(), [{"owner_pin": HEAD, "year": 2015, "kind": "passenger"},
                                              {"owner_pin": HEAD, "year": 2008, "kind": "truck"}])
        conn.execute(store.real_estate.insert(), [{"owner_pin": HEAD, "kind": "residential"},
                                                  {"owner_pin": HEAD, "kind": "non_residential"}])
        conn.execute(store.security_holding.insert(), [
            {"owner_pin": HEAD, "market_value": 1_000_000, "nominal_value": 800_000},
            {"owner_pin": HEAD, "market_value": None, "nominal_value": 500_000}])
        conn.execute(store.status.insert(), [
            {"pin": CHILD, "status": "student", "start_date": date(2024, 9, 1), "end_date": None},
            {"pin": HEAD, "status": "military_service", "start_date": date(1998, 6, 1), "end_date": date(1999, 6, 1)},
            {"pin": HEAD, "status": "detention", "start_date": date(2003, 1, 1), "end_date": date(2004, 2, 1)},
            {"pin": SPOUSE, "status": "iron_notebook", "start_date": date(2024, 5, 1), "end_date": None},
            {"pin": SPOUSE, "status": "registered_unemployed", "start_date": date(2025, 1, 15),
             "end_date": date(2025, 4, 30)},
            {"pin": SPOUSE, "status": "employment_registered", "start_date": date(2025, 1, 10), "end_date": None}])
        conn.execute(store.disability.insert().values(pin=CHILD, disability_group="child", end_date=date(2028, 1, 5)))
        conn.execute(store.vital_event.insert(), [
            {"pin": CHILD, "kind": "birth", "event_date": date(2010, 1, 5), "related_pin": SPOUSE},
            {"pin": GRANNY, "kind": "death", "event_date": date(2024, 11, 2), "related_pin": None},
            {"pin": HEAD, "kind": "marriage", "event_date": date(2008, 5, 1), "related_pin": SPOUSE}])


def person(surname, given, patronymic, born, gender, died=None, service=()):
    return {"surname": surname, "given_name": given, "patronymic": patronymic, "birth_date": born, "gender": gender,
            "death_date": died, "address": {"mahalla_code": MAHALLA, "text": ADDRESS},
            "household": [{"pin": HEAD, "relation": "head"}, {"pin": SPOUSE, "relation": "spouse"},
                          {"pin": CHILD, "relation": "child"}, {"pin": GRANNY, "relation": "parent"}],
            "military_service": list(service)}


EMPTY = {
    "tax": {"salaries": [], "entrepreneurial": [], "property_income": []},
    "pension_fund": {"payments": []},
    "cadastre": {"properties": []},
    "vehicles": {"vehicles": []},
    "penitentiary": {"detentions": []},
    "employment": {"unemployment_benefit": [], "public_works": [], "registrations": []},
    "education": {"enrolments": []},
    "courts": {"alimony_received": [], "alimony_paid": []},
    "securities": {"holdings": [], "income": []},
    "local_registers": {"iron_notebook": []},
}
# What each source says about each member of the family (absent: found false).
EXPECTED = {source: {pin: json.loads(json.dumps(empty)) for pin in FAMILY} for source, empty in EMPTY.items()}
EXPECTED["population"] = {
    HEAD: person("Testov", "Sobir", "Anvar oʻgʻli", "1980-03-10", "M",
                 service=[{"from": "1998-06-01", "to": "1999-06-01"}]),
    SPOUSE: person("Testova", "Malika", "Rustam qizi", "1985-07-20", "F"),
    CHILD: person("Testov", "Aziz", "Sobir oʻgʻli", "2010-01-05", "M"),
    GRANNY: person("Testova", "Zuhra", None, "1940-01-01", "F", died="2024-11-02"),
}
EXPECTED["tax"][HEAD] = {
    "salaries": [{"period": "2024-12", "amount": 4_900_000}, {"period": "2025-01", "amount": 5_000_000},
                 {"period": "2025-02", "amount": 5_100_000}],
    "entrepreneurial": [{"period": "2025-02", "amount": 1_000_000}],
    "property_income": [{"period": "2025-03", "amount": 2_500_000}]}
EXPECTED["pension_fund"][SPOUSE] = {"payments": [
    {"type": "benefit", "period": "2025-01", "amount": 350_000},
    {"type": "benefit", "period": "2025-02", "amount": 350_000},
    {"type": "pension", "period": "2025-02", "amount": 100_000}]}
EXPECTED["pension_fund"][GRANNY] = {"payments": [{"type": "pension", "period": "2024-10", "amount": 1_900_000}]}
EXPECTED["cadastre"][HEAD] = {"properties": [{"type": "residential"}, {"type": "non_residential"}]}
EXPECTED["vehicles"][HEAD] = {"vehicles": [{"manufacture_year": 2015, "category": "passenger"},
                                           {"manufacture_year": 2008, "category": "truck"}]}
EXPECTED["penitentiary"][HEAD] = {"detentions": [{"from": "2003-01-01", "to": "2004-02-01"}]}
EXPECTED["employment"][SPOUSE] = {
    "unemployment_benefit": [{"period": "2025-02", "amount": 900_000}],
    "public_works": [{"period": "2025-03", "amount": 1_400_000}],
    "registrations": [{"kind": "employment_registered", "from": "2025-01-10", "to": None},
                      {"kind": "registered_unemployed", "from": "2025-01-15", "to": "2025-04-30"}]}
EXPECTED["education"][CHILD] = {"enrolments": [{"from": "2024-09-01", "to": None}]}
EXPECTED["courts"][HEAD] = {"alimony_received": [], "alimony_paid": [{"period": "2025-02", "amount": 1_250_000}]}
EXPECTED["courts"][SPOUSE] = {"alimony_received": [{"period": "2025-01", "amount": 700_000}], "alimony_paid": []}
EXPECTED["disability"] = {CHILD: {"group": "child", "valid_until": "2028-01-05"}}
EXPECTED["securities"][HEAD] = {
    "holdings": [{"market_value": 1_000_000, "nominal_value": 800_000},
                 {"market_value": None, "nominal_value": 500_000}],
    "income": [{"period": "2025-04", "amount": 80_000}]}
EXPECTED["local_registers"][SPOUSE] = {"iron_notebook": [{"from": "2024-05-01", "to": None}]}


def path(source: str, suffix: str = "/persons") -> str:
    return ServiceId.parse(BY_NAME[source].service_id).path() + suffix


@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('simulator') / 'simulator.db'}"
    engine = store.engine_for(url)
    synthetic.synthesize(engine, 200, 11, AREAS, AS_OF)
    add_family(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def schemas():
    return DCISchemas()


@pytest.fixture(scope="module")
def sim(db_url, schemas):
    app = create_simulator_app(db_url, faults={}, trusted_senders={}, schemas=schemas)
    with live_server(app) as base_url:
        yield base_url, app.extensions["simulator"]
    app.extensions["simulator"].shutdown()


@pytest.fixture
def http(sim):
    base_url, state = sim
    state.faults.configure({})
    state.set_trusted_senders({})
    with httpx.Client(base_url=base_url, timeout=5) as client:
        yield client
    state.faults.configure({})
    state.set_trusted_senders({})


def get(http, source: str, pins, headers=HEADERS, **params) -> httpx.Response:
    query = [(wire.PIN_PARAM, pin) for pin in pins] + list(params.items())
    return http.get(path(source), params=query, headers=headers)


# -- X-Road sources: headers, shapes, values -------------------------------------------------------------------


@pytest.mark.parametrize("source", [s.name for s in SOURCES])
def test_the_x_road_client_header_is_required(http, source):
    if BY_NAME[source].protocol == "dci":
        response = http.post(path(source, SYNC_SEARCH), json={}, headers={"X-Road-Id": "req-1"})
    else:
        response = get(http, source, [HEAD], headers={"X-Road-Id": "req-1"})
    assert response.status_code == 400
    assert response.headers["X-Road-Error"] == "Client.BadRequest"
    assert "X-Road-Client" in response.json()["message"]
    bad = get(http, "tax", [HEAD], headers={"X-Road-Client": "UZ/GOV"})
    assert bad.status_code == 400 and bad.headers["X-Road-Error"] == "Client.BadRequest"


@pytest.mark.parametrize("source", XROAD_SOURCES)
def test_each_source_answers_the_family_from_the_store(http, source):
    asked = [HEAD, UNKNOWN, SPOUSE, CHILD, GRANNY]
    response = get(http, source, asked, headers={**HEADERS, "X-Road-Id": f"id-{source}"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Road-Id"] == f"id-{source}"
    assert response.headers["X-Road-Client"] == CLIENT_ID
    assert response.headers["X-Road-Service"] == BY_NAME[source].service_id
    assert response.headers["X-Road-Request-Hash"] and response.headers["X-Road-Request-Id"]
    results = response.json()["results"]
    assert [r["pin"] for r in results] == asked
    expected = EXPECTED[source]
    for result in results:
        if result["pin"] in expected:
            assert result == {"pin": result["pin"], "found": True, "data": expected[result["pin"]]}
        else:
            assert result == {"pin": result["pin"], "found": False}
    assert results[1] == {"pin": UNKNOWN, "found": False}


@pytest.mark.parametrize(("source", "pin", "window", "expected"), [
    ("tax", HEAD, {"from": "2025-01", "to": "2025-02"},
     {"salaries": [{"period": "2025-01", "amount": 5_000_000}, {"period": "2025-02", "amount": 5_100_000}],
      "entrepreneurial": [{"period": "2025-02", "amount": 1_000_000}], "property_income": []}),
    ("tax", HEAD, {"from": "2025-02"},
     {"salaries": [{"period": "2025-02", "amount": 5_100_000}], "entrepreneurial": [{"period": "2025-02",
      "amount": 1_000_000}], "property_income": [{"period": "2025-03", "amount": 2_500_000}]}),
    ("pension_fund", SPOUSE, {"to": "2025-01"}, {"payments": [{"type": "benefit", "period": "2025-01",
                                                              "amount": 350_000}]}),
    ("courts", HEAD, {"from": "2025-03"}, {"alimony_received": [], "alimony_paid": []}),
    ("securities", HEAD, {"to": "2025-03"}, {**EXPECTED["securities"][HEAD], "income": []}),
    # statuses ignore the window
    ("employment", SPOUSE, {"from": "2025-03", "to": "2025-03"},
     {**EXPECTED["employment"][SPOUSE], "unemployment_benefit": []}),
])
def test_the_month_window_bounds_income_lines(http, source, pin, window, expected):
    (result,) = get(http, source, [pin], **window).json()["results"]
    assert result["data"] == expected


def test_batch_limit_and_bad_requests(http):
    pins = [HEAD] * wire.MAX_BATCH
    assert get(http, "tax", pins).status_code == 200
    assert len(get(http, "tax", pins).json()["results"]) == wire.MAX_BATCH
    too_many = get(http, "tax", [*pins, SPOUSE])
    assert too_many.status_code == 400
    assert too_many.headers["X-Road-Error"] == "Server.ServerProxy.InvalidRequest"
    assert "51 PINs" in too_many.json()["message"] and str(wire.MAX_BATCH) in too_many.json()["message"]
    for pins, params, words in [([], {}, "no `pin`"), (["123"], {}, "14 digits"), ([HEAD, "3150590123456X"], {},
                                "14 digits"), ([HEAD], {"from": "2025-13"}, "YYYY-MM"),
                                ([HEAD], {"from": "2025-05", "to": "2025-01"}, "after")]:
        response = get(http, "population", pins, **params)
        assert response.status_code == 400, pins
        assert response.headers["X-Road-Error"] == "Server.ServerProxy.InvalidRequest"
        assert words in response.json()["message"]


def test_duplicates_are_answered_in_place(http):
    results = get(http, "vehicles", [SPOUSE, HEAD, SPOUSE]).json()["results"]
    assert [r["pin"] for r in results] == [SPOUSE, HEAD, SPOUSE]
    assert results[0] == results[2] and len(results[1]["data"]["vehicles"]) == 2


def test_unknown_service_and_wrong_path(http):
    unknown = http.get("/r1/UZ/GOV/XYZ/nothing/none/persons", params={"pin": HEAD}, headers=HEADERS)
    assert unknown.headers["X-Road-Error"] == "Server.ServerProxy.UnknownService"
    wrong = http.get(path("tax", "/people"), params={"pin": HEAD}, headers=HEADERS)
    assert wrong.status_code == 404 and "X-Road-Error" not in wrong.headers
    with pytest.raises(ValueError):
        wrong.json()  # not JSON: a client must not read it as "no such person"
    assert http.post(path("tax"), params={"pin": HEAD}, headers=HEADERS).status_code == 405


def test_synthetic_population_is_served_as_stored(http, db_url):
    """Over 50 generated people: every income line, asset and household as the store holds it."""
    raw = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    pins = [row[0] for row in raw.execute("SELECT pin FROM person WHERE pin NOT IN (?, ?, ?, ?) ORDER BY pin "
                                          "LIMIT 50 OFFSET 100", FAMILY)]
    assert len(pins) == 50
    marks = ",".join("?" * len(pins))

    def store_sum(sql):
        return dict(raw.execute(sql.format(marks=marks), pins).fetchall())

    def answered(source):
        results = get(http, source, pins).json()["results"]
        assert all(r["found"] for r in results)
        return {r["pin"]: r["data"] for r in results}

    tax = answered("tax")
    salaries = {pin: sum(line["amount"] for line in data["salaries"]) for pin, data in tax.items()}
    expected = store_sum("SELECT pin, SUM(amount) FROM income WHERE source = 'salary' AND pin IN ({marks}) "
                         "GROUP BY pin")
    assert {p: s for p, s in salaries.items() if s} == expected and expected
    pensions = answered("pension_fund")
    paid = {pin: sum(line["amount"] for line in data["payments"]) for pin, data in pensions.items()}
    expected = store_sum("SELECT pin, SUM(amount) FROM income WHERE source IN ('pension', 'benefit') "
                         "AND pin IN ({marks}) GROUP BY pin")
    assert {p: s for p, s in paid.items() if s} == expected
    cars = {pin: len(data["vehicles"]) for pin, data in answered("vehicles").items() if data["vehicles"]}
    assert cars == store_sum("SELECT owner_pin, COUNT(*) FROM vehicle WHERE owner_pin IN ({marks}) "
                             "GROUP BY owner_pin")
    population = answered("population")
    for pin in pins:
        (household_id,) = raw.execute("SELECT household_id FROM family_link WHERE pin = ?", (pin,)).fetchone()
        members = dict(raw.execute("SELECT pin, relation FROM family_link WHERE household_id = ?", (household_id,)))
        assert {m["pin"]: m["relation"] for m in population[pin]["household"]} == members
        assert population[pin]["household"][0]["relation"] == "head"
        (born, sex) = raw.execute("SELECT birth_date, sex FROM person WHERE pin = ?", (pin,)).fetchone()
        assert (population[pin]["birth_date"], population[pin]["gender"]) == (born, sex)
    raw.close()


def test_the_x_road_client_reads_the_simulator(sim):
    """Both ends agree: the transport client accepts the simulator's answers and echoed headers."""
    base_url, _state = sim
    policy = SourcePolicy.from_config("tax", {"cache": 0, "retry": {"attempts": 1}})
    with XRoadClient(base_url, CLIENT_ID, BY_NAME["tax"].service_id, policy) as client:
        result = client.get("/persons", params=[("pin", HEAD), ("pin", UNKNOWN)], user_id="UZregistrar1")
    assert result.json["results"][0]["data"] == EXPECTED["tax"][HEAD]
    assert result.json["results"][1] == {"pin": UNKNOWN, "found": False}


# -- civil registry over DCI -----------------------------------------------------------------------------------


def srsp_keyring(http) -> Keyring:
    keyring = Keyring.generate(SRSP)
    keyring.trust_jwks(http.get("/.well-known/jwks.json").json(), sender_id=DEFAULT_DCI_SENDER_ID)
    return keyring


def dci_client(base_url, keyring, schemas) -> DCIClient:
    policy = SourcePolicy.from_config("civil_registry", {"cache": 0, "retry": {"attempts": 1}})
    transport = XRoadClient(base_url, CLIENT_ID, BY_NAME["civil_registry"].service_id, policy)
    return DCIClient(transport, keyring, DEFAULT_DCI_SENDER_ID, schemas=schemas)


def test_dci_search_is_signed_and_answers_vital_events(sim, http, schemas):
    base_url, state = sim
    jwks = http.get("/.well-known/jwks.json").json()
    assert jwks["keys"][0]["kid"] == state.keyring.kid
    client = dci_client(base_url, srsp_keyring(http), schemas)
    outcome = client.search([(wire.PIN_ID_TYPE, pin) for pin in (CHILD, HEAD, GRANNY, UNKNOWN)] + [("PASSPORT", CHILD)])
    by_pin = {query.value: outcome.records_for(query) for query in outcome.queries.values()
              if query.id_type == wire.PIN_ID_TYPE}
    assert [outcome.records_for(q) for q in outcome.queries.values() if q.id_type == "PASSPORT"] == [[]]
    assert by_pin == {
        CHILD: [{"event": "birth", "date": "2010-01-05", "pin": CHILD, "related_pin": SPOUSE}],
        HEAD: [{"event": "marriage", "date": "2008-05-01", "pin": HEAD, "related_pin": SPOUSE}],
        GRANNY: [{"event": "death", "date": "2024-11-02", "pin": GRANNY, "related_pin": None}],
        UNKNOWN: []}
    assert outcome.transport.request_id
    with pytest.raises(SourceNotFound):
        client.search_one(wire.PIN_ID_TYPE, UNKNOWN)
    # A client that does not trust the simulator's key refuses its answer.
    stranger = Keyring.generate(SRSP)
    with pytest.raises(Exception, match="unknown key id"):
        dci_client(base_url, stranger, schemas).search_one(wire.PIN_ID_TYPE, CHILD)


def test_dci_request_signatures_are_verified_when_a_sender_is_trusted(http, schemas):
    srsp = srsp_keyring(http)
    signed = srsp.sign(build_search_request(SRSP, DEFAULT_DCI_SENDER_ID, [(wire.PIN_ID_TYPE, CHILD)]))
    tampered = json.loads(json.dumps(signed))
    tampered["message"]["search_request"][0]["search_criteria"]["query"]["value"] = HEAD
    url = path("civil_registry", SYNC_SEARCH)

    # Verification off: even the tampered request is answered (so below it is the signature check that refuses).
    assert http.post(url, json=tampered, headers=HEADERS).status_code == 200

    assert http.put("/_control/dci/trusted-senders", json={SRSP: srsp.jwks()}).json() == {SRSP: [srsp.kid]}
    ok = http.post(url, json=signed, headers=HEADERS)
    assert ok.status_code == 200
    assert schemas.errors("crvs", SYNC_SEARCH, ok.json(), part="response") == []
    srsp.verify(ok.json())
    assert parse_search_response(ok.json()).results[0].records[0]["pin"] == CHILD

    refused = http.post(url, json=tampered, headers=HEADERS)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "err.signature.invalid"
    unsigned = {"header": signed["header"], "message": signed["message"]}
    assert http.post(url, json=unsigned, headers=HEADERS).status_code == 401
    base_url = str(http.base_url).rstrip("/")
    with pytest.raises(SourceRejected) as caught:
        dci_client(base_url, Keyring.generate(SRSP), schemas).search_one(wire.PIN_ID_TYPE, CHILD)
    assert caught.value.status_code == 401
    assert dci_client(base_url, srsp, schemas).search_one(wire.PIN_ID_TYPE, CHILD)[0][0]["event"] == "birth"


def test_dci_requests_are_schema_checked(http):
    response = http.post(path("civil_registry", SYNC_SEARCH), json={"header": {}, "message": {}}, headers=HEADERS)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "err.request.bad"
    assert http.get(path("civil_registry", "/persons"), headers=HEADERS).status_code == 404


def test_the_registry_connectors_read_the_simulator(sim):
    """The other end: SRSP's own connectors (connectors/registry.py) against the simulator, with their defaults."""
    from connectors.registry import DCI_SENDER_ID, build

    base_url, _state = sim
    with httpx.Client() as client:
        connectors = build({"*": {"cache": 0, "retry": {"attempts": 1}}}, base_url, Keyring.generate(DCI_SENDER_ID),
                           http=client)
        assert set(connectors) == {source.name for source in SOURCES}
        for name, connector in connectors.items():
            outcomes = connector.fetch([*FAMILY, UNKNOWN], window=("2024-06", "2025-05"))
            assert outcomes[UNKNOWN].status == "not_found", name
            for pin in FAMILY:
                known = pin in EXPECTED.get(name, (HEAD, CHILD, GRANNY))  # civil registry: people with events
                assert outcomes[pin].status == ("ok" if known else "not_found"), (name, pin, outcomes[pin].error)
        head = connectors["tax"].fetch([HEAD], window=("2025-01", "2025-02"))[HEAD].records
        assert sorted((r.source, r.month, r.amount) for r in head) == [
            ("entrepreneurial", "2025-02", 1_000_000), ("salary", "2025-01", 5_000_000),
            ("salary", "2025-02", 5_100_000)]
        (birth,) = connectors["civil_registry"].fetch([CHILD], window=("2024-06", "2025-05"))[CHILD].records
        assert (birth.event, birth.date, birth.related_pin) == ("birth", date(2010, 1, 5), SPOUSE)


# -- faults ----------------------------------------------------------------------------------------------------


def test_5xx_and_down(http, sim):
    http.put("/_control/faults", json={"tax": {"error_rate": 1, "mode": "5xx"}, "cadastre": {"mode": "down"}})
    for source in ("tax", "cadastre"):
        response = get(http, source, [HEAD])
        assert response.status_code == 503
        assert response.headers["X-Road-Error"] == "Server.ServerProxy.ServiceFailed"
    assert get(http, "vehicles", [HEAD]).status_code == 200  # other sources are untouched
    base_url, _ = sim
    policy = SourcePolicy.from_config("tax", {"cache": 0, "retry": {"attempts": 2, "base_delay": 0.01}})
    with XRoadClient(base_url, CLIENT_ID, BY_NAME["tax"].service_id, policy) as client, \
            pytest.raises(SourceUnavailable) as caught:
        client.get("/persons", params={"pin": HEAD})
    assert caught.value.attempts == 2


def test_malformed_body(http, sim):
    http.put("/_control/faults", json={"pension_fund": {"error_rate": 1.0, "mode": "malformed"}})
    response = get(http, "pension_fund", [HEAD])
    assert response.status_code == 200 and response.headers["X-Road-Id"]
    with pytest.raises(ValueError):
        response.json()
    policy = SourcePolicy.from_config("pension_fund", {"cache": 0})
    with XRoadClient(sim[0], CLIENT_ID, BY_NAME["pension_fund"].service_id, policy) as client, \
            pytest.raises(SourceMalformed):
        client.get("/persons", params={"pin": HEAD})
    # DCI answers break the same way
    http.put("/_control/faults", json={"civil_registry": {"error_rate": 1.0, "mode": "malformed"}})
    response = http.post(path("civil_registry", SYNC_SEARCH), json={}, headers=HEADERS)
    assert response.status_code == 200 and response.text.startswith('{"results": [')


def elapsed(http, source) -> float:
    started = time.perf_counter()
    assert get(http, source, [HEAD]).status_code == 200
    return time.perf_counter() - started


def test_latency_is_applied_globally_and_overridden_per_source(http):
    http.put("/_control/faults", json={"*": {"latency_ms": 200}, "education": {"latency_ms": 0}})
    assert elapsed(http, "vehicles") >= 0.2
    assert elapsed(http, "education") < 0.15
    http.put("/_control/faults", json={"*": {"latency_ms": 100, "jitter_ms": 100}})
    assert 0.1 <= elapsed(http, "courts") < 0.6
    http.put("/_control/faults", json={})
    assert elapsed(http, "vehicles") < 0.15


def test_error_rate_is_deterministic(http):
    config = {"vehicles": {"error_rate": 0.5, "seed": 3}}

    def run():
        http.put("/_control/faults", json=config)  # a new configuration restarts the sequence
        return [get(http, "vehicles", [HEAD]).status_code == 503 for _ in range(20)]

    first = run()
    draws = random.Random("3:vehicles")
    assert first == [draws.random() < 0.5 for _ in range(20)]
    assert 3 <= sum(first) <= 17
    assert run() == first
    config["vehicles"]["seed"] = 4
    assert run() != first


def test_faults_change_at_run_time(http, sim):
    assert http.get("/_control/faults").json() == {"config": {}, "effective": {}}
    changed = http.put("/_control/faults", json={"*": {"latency_ms": 5}, "tax": {"error_rate": 0.3}})
    assert changed.status_code == 200
    current = http.get("/_control/faults").json()
    assert current["config"] == {"*": {"latency_ms": 5.0}, "tax": {"error_rate": 0.3}}
    assert current["effective"]["tax"] == {"latency_ms": 5.0, "jitter_ms": 0.0, "error_rate": 0.3, "mode": "5xx",
                                           "seed": 0, "timeout_s": 30.0}
    for bad in ({"taxes": {}}, {"tax": {"error_rate": 2}}, {"tax": {"mode": "flaky"}}, {"tax": {"latencyms": 1}},
                ["tax"]):
        response = http.put("/_control/faults", json=bad)
        assert response.status_code == 400, bad
    assert http.get("/_control/faults").json() == current  # a refused configuration changes nothing
    health = http.get("/_control/health").json()
    assert health["status"] == "ok" and health["population"]["persons"] > 200
    assert health["faults"] == current["config"] and health["calls"]


def test_timeout_hangs_until_the_client_gives_up_and_stops_on_shutdown(db_url, schemas):
    app = create_simulator_app(db_url, faults={"education": {"error_rate": 1, "mode": "timeout"}},
                               trusted_senders={}, schemas=schemas)
    state = app.extensions["simulator"]
    with live_server(app) as base_url, httpx.Client(base_url=base_url) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get(path("education"), params={"pin": HEAD}, headers=HEADERS, timeout=0.3)
        answers = []
        waiting = threading.Thread(target=lambda: answers.append(
            http.get(path("education"), params={"pin": HEAD}, headers=HEADERS, timeout=10)))
        started = time.perf_counter()
        waiting.start()
        time.sleep(0.3)
        state.shutdown()  # the 30 s hang ends at once
        waiting.join(5)
        assert time.perf_counter() - started < 3
        assert answers[0].status_code == 503


def test_faults_from_the_environment(monkeypatch, db_url, schemas):
    monkeypatch.setenv("SIMULATOR_FAULTS", '{"*": {"latency_ms": 50}, "tax": {"error_rate": 0.3, "mode": "5xx"}}')
    app = create_simulator_app(db_url, trusted_senders={}, schemas=schemas)
    faults = app.extensions["simulator"].faults
    assert faults.spec("tax").latency_ms == 50 and faults.spec("tax").error_rate == 0.3
    assert faults.spec("vehicles").error_rate == 0
    monkeypatch.setenv("SIMULATOR_FAULTS", '{"tax": {"mode": "sometimes"}}')
    with pytest.raises(FaultConfigError, match="SIMULATOR_FAULTS"):
        Faults.from_env(["tax"])


# -- subscribe and notify --------------------------------------------------------------------------------------


def test_births_and_deaths_are_notified_to_subscribers(tmp_path, schemas):
    url = f"sqlite:///{tmp_path / 'notify.db'}"
    engine = store.engine_for(url)
    synthetic.synthesize(engine, 40, 5, AREAS, AS_OF)
    sim_app = create_simulator_app(url, faults={}, trusted_senders={}, schemas=schemas)
    state = sim_app.extensions["simulator"]
    srsp = Keyring.generate(SRSP)
    srsp.trust_jwks(state.keyring.jwks(), sender_id=DEFAULT_DCI_SENDER_ID)
    received = []
    receiver = Flask("receiver")

    @receiver.post("/dci/notify")
    def notify():
        note = receive_notify(request.get_json(), keyring=srsp, schemas=schemas)
        received.append((request.headers.get("X-Road-Client"), note))
        return jsonify(build_ack())

    @receiver.get("/.well-known/jwks.json")
    def jwks():
        return jsonify(srsp.jwks())

    with live_server(sim_app) as base_url, live_server(receiver) as receiver_url:
        # Subscribe requests are verified too, with SRSP's key fetched from its JWKS URL on first use.
        trusted = httpx.put(f"{base_url}/_control/dci/trusted-senders",
                            json={SRSP: f"{receiver_url}/.well-known/jwks.json"})
        assert trusted.json() == {SRSP: []}
        client = dci_client(base_url, srsp, schemas)
        ack, _sent = client.subscribe([EVENT_BIRTH, EVENT_DEATH], sender_uri=f"{receiver_url}/dci/notify")
        assert ack.ack_status == "ACK"
        assert state.trusted_senders() == {SRSP: [srsp.kid]}
        with pytest.raises(SourceRejected):
            dci_client(base_url, Keyring.generate(SRSP), schemas).subscribe([EVENT_BIRTH], sender_uri="http://x/y")
        client.subscribe([EVENT_BIRTH], sender_uri=f"{receiver_url}/dci/notify")  # again: still one subscriber
        client.subscribe([EVENT_DEATH], sender_uri="http://127.0.0.1:9/unreachable")
        with pytest.raises(SourceRejected, match="unsupported"):
            client.subscribe(["spdci-common:RegistryEventType:Marriage"], sender_uri=f"{receiver_url}/x")
        assert len(httpx.get(f"{base_url}/_control/dci/subscriptions").json()) == 2

        emitted = httpx.post(f"{base_url}/_control/vital-events/emit", json={"births": 2, "deaths": 1, "seed": 9},
                             timeout=20)
        assert emitted.status_code == 200, emitted.text
        body = emitted.json()
        events = body["events"]
        assert [e["event"] for e in events] == ["birth", "birth", "death"]
        assert all(e["date"] == date.today().isoformat() for e in events)
        outcomes = {o["uri"]: o for o in body["notified"]}
        assert outcomes[f"{receiver_url}/dci/notify"] == {"uri": f"{receiver_url}/dci/notify", "sender_id": SRSP,
                                                          "events": 3, "status": 200, "ack": "ACK", "error": None}
        assert outcomes["http://127.0.0.1:9/unreachable"]["events"] == 1
        assert outcomes["http://127.0.0.1:9/unreachable"]["error"]  # reported, not fatal

        ((client_header, note),) = received
        assert client_header == "UZ/GOV/MOJ/civil-registry"
        assert note.sender_id == DEFAULT_DCI_SENDER_ID
        assert [(e.event_type, e.record) for e in note.events] == [
            (EVENT_BIRTH, events[0]), (EVENT_BIRTH, events[1]), (EVENT_DEATH, events[2])]

        # The store has them: the newborn is a person of the mother's household, the dead has a death date.
        newborn, mother = events[0]["pin"], events[0]["related_pin"]
        with httpx.Client(base_url=base_url) as http:
            (found,) = get(http, "population", [newborn]).json()["results"]
            assert found["found"] and found["data"]["birth_date"] == date.today().isoformat()
            assert mother in {m["pin"] for m in found["data"]["household"]}
            (dead,) = get(http, "population", [events[2]["pin"]]).json()["results"]
            assert dead["data"]["death_date"] == date.today().isoformat()
        records, _ = client.search_one(wire.PIN_ID_TYPE, newborn)
        assert records == [events[0]]
        bad = httpx.post(f"{base_url}/_control/vital-events/emit", json={"births": -1})
        assert bad.status_code == 400
    state.shutdown()
    engine.dispose()


# -- the command -----------------------------------------------------------------------------------------------


def test_serve_refuses_an_empty_store(tmp_path):
    result = CliRunner().invoke(simulator, ["serve", "--port", "0", "--database-url",
                                            f"sqlite:///{tmp_path / 'empty.db'}"])
    assert result.exit_code != 0
    assert "run `srsp synth --households N` first" in result.output


def test_register_commands_adds_the_simulator_group():
    app = Flask("host")
    register_commands(app)
    assert "serve" in app.cli.commands["simulator"].commands
