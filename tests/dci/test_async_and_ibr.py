"""Async search with its on-search callback, txn status, subscribe → registration → notify, unsubscribe, and the
ID & Beneficiary Registry."""

from __future__ import annotations

from datetime import date

from connectors.transport.dci import DCISchemas, Keyring, new_id, timestamp
from modules.registration.membership import Joining, change_members
from modules.registration.models import Relation
from tests import factories
from tests.dci.conftest import IBR, SOCIAL, Sender, by_pin, search_message

SPEC = DCISchemas()


def _ack(response, endpoint: str, registry: str = "social") -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["message"]["ack_status"] == "ACK"
    assert SPEC.errors(registry, endpoint, body, part="response") == []
    return body["message"]["correlation_id"]


def _verified(http, body: dict) -> None:
    ring = Keyring("verifier")
    ring.trust_jwks(http.get("/.well-known/jwks.json").get_json())
    ring.verify(body)


def _subscribe_message(event_type: str = "REGISTER", area: str = "UZ-TK") -> dict:
    return {"transaction_id": new_id(), "subscribe_request": [{
        "reference_id": new_id(), "timestamp": timestamp(), "subscribe_criteria": {
            "version": "1.0.0", "reg_event_type": event_type, "filter_type": "expression",
            "filter": [{"seq_num": 1, "expression1": {"attribute_name": "area_code", "operator": "eq",
                                                      "attribute_value": area}}],
            "notify_record_type": "spdci-extensions-dci:Group"}}]}


def test_async_search_acks_then_posts_a_signed_on_search_to_the_registered_url(http, receiver):
    family = factories.make_family()
    factories.commit()
    sender = Sender(http, "async-sender", callback_urls=[receiver.url])
    request = sender.envelope("search", search_message(by_pin(family["head"].pin)), sender_uri=receiver.url)
    correlation_id = _ack(sender.post(f"{SOCIAL}/search", request), "/registry/search")
    assert receiver.actions() == ["on-search"]
    on_search = receiver.bodies[0]
    assert SPEC.errors("social", "/registry/on-search", on_search, part="request") == []
    _verified(http, on_search)
    assert on_search["message"]["correlation_id"] == correlation_id
    assert on_search["message"]["transaction_id"] == request["message"]["transaction_id"]
    records = on_search["message"]["search_response"][0]["data"]["reg_records"]
    assert records[0]["identifier"][0]["identifier_value"] == family["head"].pin

    status_request = sender.envelope("txn-status", {"transaction_id": new_id(), "txnstatus_request": {
        "reference_id": new_id(), "txn_type": "search", "attribute_type": "correlation_id",
        "attribute_value": correlation_id}})
    response = sender.post(f"{SOCIAL}/sync/txn/status", status_request)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert SPEC.errors("social", "/registry/sync/txn/status", body, part="response") == []
    assert body["message"]["txnstatus_response"]["txn_status"]["search_response"][0]["status"] == "succ"

    status_request["header"]["sender_uri"] = receiver.url
    _ack(sender.post(f"{SOCIAL}/txn/status", status_request), "/registry/txn/status")
    assert receiver.actions() == ["on-search", "txn-on-status"]
    assert SPEC.errors("social", "/registry/txn/on-status", receiver.bodies[1], part="request") == []


def test_an_unregistered_callback_url_is_refused_and_nothing_is_sent(http, receiver):
    sender = Sender(http, "stranger", callback_urls=["http://127.0.0.1:9/elsewhere"])
    request = sender.envelope("search", search_message(by_pin("12345678901234")), sender_uri=receiver.url)
    response = sender.post(f"{SOCIAL}/search", request)
    assert response.status_code == 400
    assert response.get_json()["message"]["error"]["code"] == "err.sender_uri.invalid"
    assert receiver.bodies == []


def test_subscribe_then_a_registration_is_notified_once_then_unsubscribe_stops_it(http, receiver):
    sender = Sender(http, "subscriber", callback_urls=[receiver.url])
    _ack(sender.post(f"{SOCIAL}/subscribe", sender.envelope("subscribe", _subscribe_message(),
                                                            sender_uri=receiver.url)), "/registry/subscribe")
    assert receiver.actions() == ["on-subscribe"]
    on_subscribe = receiver.bodies[0]
    assert SPEC.errors("social", "/registry/on-subscribe", on_subscribe, part="request") == []
    code = on_subscribe["message"]["subscribe_response"][0]["subscriptions"][0]["code"]

    registrar = factories.make_user("registrar", national=True)
    application = factories.register_family(registrar)
    factories.commit()
    notified = [body for body in receiver.bodies if body["header"]["action"] == "notify"]
    assert len(notified) == 1
    assert SPEC.errors("social", "/registry/notify", notified[0], part="request") == []
    _verified(http, notified[0])
    event = notified[0]["message"]["notify_event"][0]["data"]
    assert event["reg_event_type"] == "REGISTER"
    assert event["reg_records"]["group_identifier"] == str(application.household_id)

    unsubscribe = sender.envelope("unsubscribe", {"transaction_id": new_id(), "timestamp": timestamp(),
                                                  "subscription_codes": [code]}, sender_uri=receiver.url)
    _ack(sender.post(f"{SOCIAL}/unsubscribe", unsubscribe), "/registry/unsubscribe")
    assert receiver.actions()[-1] == "on-unsubscribe"
    assert SPEC.errors("social", "/registry/on-unsubscribe", receiver.bodies[-1], part="request") == []
    before = len(receiver.bodies)
    factories.register_family(registrar)
    factories.commit()
    assert len(receiver.bodies) == before


def test_a_new_household_member_is_notified(http, receiver):
    sender = Sender(http, "member-watch", callback_urls=[receiver.url])
    _ack(sender.post(f"{SOCIAL}/subscribe", sender.envelope("subscribe", _subscribe_message("NewHouseHoldMember"),
                                                            sender_uri=receiver.url)), "/registry/subscribe")
    family = factories.make_family(children=1)
    newborn = factories.make_person(birth_date=date(2026, 1, 5))
    change_members(family["household"], [Joining(newborn, Relation.child)], [], date(2026, 1, 6), None)
    factories.commit()
    notified = [body for body in receiver.bodies if body["header"]["action"] == "notify"]
    assert len(notified) == 1
    assert notified[0]["message"]["notify_event"][0]["data"]["reg_event_type"] == "NewHouseHoldMember"


def test_ibr_tells_who_is_enrolled_where_since_when_and_for_how_much(http):
    family = factories.assessed_family()
    enrolment = factories.enrol(family, amount="312500.00")
    never = factories.make_person()
    factories.commit()
    sender = Sender(http, "pension-fund", fields=("identifier", "name", "enrolment"))
    message = search_message(by_pin(family["children"][0].pin))
    message["search_request"].append(search_message(by_pin(never.pin))["search_request"][0])
    response = sender.post(f"{IBR}/sync/search", sender.envelope("search", message, total=2))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert SPEC.errors("ibr", "/registry/sync/search", body, part="response") == []
    enrolled, not_enrolled = (item["data"]["reg_records"] for item in body["message"]["search_response"])
    assert enrolled[0]["enrolments"] == [{
        "programme": {"programme_identifier": "child_allowance", "programme_name": enrolment.programme.name_en},
        "enrolment_date": enrolment.period_start.isoformat(), "enrolment_end_date": enrolment.period_end.isoformat(),
        "enrolment_status": "active",
        "benefits": {"benefit_type": "Cash", "benefit_value": "UZS 312500.00", "benefit_amount": "312500.00",
                     "currency": "UZS", "benefit_frequency": "Monthly", "months": 12}}]
    assert not_enrolled[0]["enrolments"] == []
    assert "birth_date" not in not_enrolled[0]


def test_a_subscription_filter_leaves_out_events_that_do_not_match_it(http, receiver):
    sender = Sender(http, "samarkand-office", callback_urls=[receiver.url])
    _ack(sender.post(f"{SOCIAL}/subscribe", sender.envelope("subscribe", _subscribe_message(area="UZ-SA"),
                                                            sender_uri=receiver.url)), "/registry/subscribe")
    registrar = factories.make_user("registrar", national=True)
    factories.register_family(registrar, area_code="UZ-TK")
    factories.commit()
    assert receiver.actions() == ["on-subscribe"]
    factories.register_family(registrar, area_code="UZ-SA")
    factories.commit()
    assert receiver.actions() == ["on-subscribe", "notify"]


def test_a_subscription_filter_on_a_forbidden_field_is_rejected(http, receiver):
    sender = Sender(http, "nosy", fields=("name",), callback_urls=[receiver.url])
    _ack(sender.post(f"{SOCIAL}/subscribe", sender.envelope("subscribe", _subscribe_message(),
                                                            sender_uri=receiver.url)), "/registry/subscribe")
    item = receiver.bodies[0]["message"]["subscribe_response"][0]
    assert item["status"] == "rjct" and item["status_reason_code"] == "rjct.notify_details.invalid"


def test_ibr_sync_enrolled_answers_yes_for_an_enrolled_person_and_no_for_another(http):
    family = factories.assessed_family()
    factories.enrol(family)
    never = factories.make_person()
    factories.commit()
    sender = Sender(http, "treasury", fields=("identifier", "enrolment"))
    answers = []
    for pin in (family["children"][0].pin, never.pin, "00000000000000"):
        message = {"transaction_id": new_id(), "enrolled_criteria": {
            "query_type": "expression", "response_entity": "Member",
            "query": {"attribute_name": "person_identifier", "operator": "eq", "attribute_value": pin}}}
        response = sender.post(f"{IBR}/sync/enrolled", sender.envelope("search", message))
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.get_json()["enrolled_response"][0]["enrolled_status"])
    assert answers == ["yes", "no", "no"]


def test_the_beneficiary_registry_notifies_no_events_yet_and_says_so(http, receiver):
    sender = Sender(http, "ibr-watch", callback_urls=[receiver.url])
    _ack(sender.post(f"{IBR}/subscribe", sender.envelope("subscribe", _subscribe_message("enrollement"),
                                                         sender_uri=receiver.url)), "/registry/subscribe", "ibr")
    item = receiver.bodies[0]["message"]["subscribe_response"][0]
    assert item["status"] == "rjct" and item["status_reason_code"] == "rjct.notify_types.invalid"
    assert SPEC.errors("ibr", "/registry/on-subscribe", receiver.bodies[0], part="request") == []
