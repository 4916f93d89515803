"""What the registries do with a sender's request once it is authenticated and valid against the spec.

- search (sync, or async then delivered by `tasks.deliver`): each `search_request` item is answered by its own
  `search_response` item: `succ` with one page of records, or `rjct` with the spec's reason code (a query this
  registry cannot run, a query type or attribute the sender's policy does not allow, a bad page). Every search
  is audited (`dci.records_served`) with the sender, its declared purpose, the consent the request carries (the
  first one, if any) and the records served.
- txn status: the stored answer of one of the sender's own transactions.
- subscribe / unsubscribe: subscriptions to `REGISTER` (an application submitted for a household) and
  `NewHouseHoldMember` events; `events.py` notifies them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from connectors.transport.dci import VERSION, new_id, timestamp
from modules.dci import records
from modules.dci.models import DciClient, DciSubscription, DciTransaction
from modules.enrolment.models import Enrolment
from modules.registration.models import Household, Person
from webapp import audit
from webapp.extensions import db
from webapp.timeutil import utcnow

SOCIAL, IBR = "social", "ibr"
MAX_PAGE_SIZE = 100
EVENT_TYPES = {SOCIAL: ("REGISTER", "NewHouseHoldMember"), IBR: ()}  # no enrolment events are notified yet
RECORDS_SERVED = "dci.records_served"
RECORD_TYPES = {records.MEMBER: "spdci-extensions-dci:Member", records.GROUP: "spdci-extensions-dci:Group"}


class _Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message[:999]


def _page(criteria: dict) -> tuple[int, int]:
    pagination = criteria.get("pagination") or {}
    size, number = pagination.get("page_size", 10), pagination.get("page_number", 1)
    if not all(isinstance(v, int | float) and float(v).is_integer() for v in (size, number)):
        raise _Rejected("rjct.pagination.invalid", "page_size and page_number are whole numbers")
    size, number = int(size), int(number)
    if not 1 <= size <= MAX_PAGE_SIZE or not 1 <= number <= 100_000:
        raise _Rejected("rjct.pagination.invalid", f"page_size is 1 to {MAX_PAGE_SIZE}, page_number at least 1")
    return size, number


def _language(locale: Any) -> str:
    return records.LANGUAGES.get(locale, "uz") if isinstance(locale, str) else "uz"


def _enrolments(person_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return found
    rows = db.session.scalars(select(Enrolment).where(Enrolment.beneficiary_person_id.in_(person_ids))
                              .order_by(Enrolment.period_start, Enrolment.id))
    for row in rows:
        amount = str(Decimal(row.monthly_amount).quantize(Decimal("0.01")))
        found[row.beneficiary_person_id].append({  # the shape of the IBR specification's sample records
            "programme": {"programme_identifier": row.programme.code, "programme_name": row.programme.name_en},
            "enrolment_date": row.period_start.isoformat(), "enrolment_end_date": row.period_end.isoformat(),
            "enrolment_status": str(row.status),
            "benefits": {"benefit_type": "Cash", "benefit_value": f"UZS {amount}", "benefit_amount": amount,
                         "currency": "UZS", "benefit_frequency": "Once" if row.lump_sum else "Monthly",
                         "months": row.months},
        })
    return found


def _search_item(client: DciClient, registry: str, item: dict, served: list[str]) -> dict[str, Any]:
    criteria = item["search_criteria"]
    locale = item.get("locale")
    answer: dict[str, Any] = {"reference_id": item["reference_id"], "timestamp": timestamp()}
    try:
        if criteria.get("query_type") not in (client.allowed_query_types or []):
            raise _Rejected("rjct.search_criteria.invalid",
                            f"query_type {criteria.get('query_type')!r} is not allowed for this sender")
        entity = records.MEMBER if registry == IBR else records.entity_of(criteria)
        allowed = set(client.allowed_fields or [])
        try:
            clause = records.where_clause(criteria, entity, allowed)
        except records.BadQuery as exc:
            raise _Rejected("rjct.search_criteria.invalid", str(exc)) from exc
        size, number = _page(criteria)
        ids_query = records.select_ids(entity, clause, criteria.get("sort"))
        total = db.session.scalar(select(func.count()).select_from(ids_query.order_by(None).subquery()))
        ids = list(db.session.scalars(ids_query.limit(size).offset((number - 1) * size)))
    except _Rejected as rejected:
        answer.update(status="rjct", status_reason_code=rejected.code, status_reason_message=rejected.message)
        return answer
    language = _language(locale)
    if entity == records.MEMBER:
        people = {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
        members = records.memberships(ids) if "household" in allowed else {}
        found = [records.member_record(people[i], allowed, language, members.get(i)) for i in ids]
        if registry == IBR:
            enrolments = _enrolments(ids) if "enrolment" in allowed else {}
            for pid, record in zip(ids, found, strict=True):
                if "enrolment" in allowed:
                    record["enrolments"] = enrolments[pid]
        served.extend(f"person:{i}" for i in ids)
    else:
        homes = {h.id: h for h in db.session.scalars(select(Household).where(Household.id.in_(ids)))} if ids else {}
        found = [records.group_record(homes[i], allowed, language) for i in ids]
        served.extend(f"household:{i}" for i in ids)
    data = {"version": VERSION, "reg_type": "ns:org:RegistryType:Social" if registry == SOCIAL
            else "ns:org:RegistryType:IBR", "reg_record_type": RECORD_TYPES[entity], "reg_records": found}
    answer.update(status="succ", data=data,
                  pagination={"page_size": size, "page_number": number, "total_count": int(total)})
    if isinstance(locale, str) and locale in records.LANGUAGES:
        answer["locale"] = locale
    return answer


def search(client: DciClient, registry: str, envelope: dict, correlation_id: str | None = None) -> dict[str, Any]:
    """The `SearchResponse` message answering a search request, audited (no commit)."""
    message = envelope["message"]
    served: list[str] = []
    items = [_search_item(client, registry, item, served) for item in message["search_request"]]
    consents = [item["search_criteria"]["consent"] for item in message["search_request"]
                if item["search_criteria"].get("consent")]
    audit.record(RECORDS_SERVED, "dci_client", client.id, {
        "client": client.name, "purpose": client.purpose, "registry": registry,
        "transaction_id": str(message["transaction_id"])[:99], "total": len(served), "records": served[:1000],
        "consent": json.dumps(consents[0], sort_keys=True)[:1000] if consents else None,
    })
    return {"transaction_id": message["transaction_id"], "correlation_id": correlation_id or new_id(),
            "search_response": items}


def search_problem(client: DciClient, envelope: dict) -> str | None:
    """Why an async search cannot be answered (bad pagination, a query type not allowed), else None."""
    for item in envelope["message"]["search_request"]:
        criteria = item["search_criteria"]
        try:
            _page(criteria)
        except _Rejected as rejected:
            return f"{item['reference_id']}: {rejected.message}"
        if criteria.get("query_type") not in (client.allowed_query_types or []):
            return f"{item['reference_id']}: query_type {criteria.get('query_type')!r} is not allowed"
    return None


_PERSON_KEYS = ("person_identifier", "pin", "uin", "identifier")


def enrolled(client: DciClient, envelope: dict) -> dict[str, Any]:
    """The `EnrolledResponse` (IBR `sync/enrolled`): is the person enrolled (an enrolment not ended) anywhere?

    The query is one expression {attribute_name: person_identifier (or pin), operator: eq, attribute_value}."""
    message = envelope["message"]
    query = message["enrolled_criteria"].get("query") or {}
    answer: dict[str, Any] = {"reference_id": str(message["transaction_id"])[:99], "timestamp": timestamp()}
    attribute, value = str(query.get("attribute_name", "")).lower(), query.get("attribute_value")
    if attribute not in _PERSON_KEYS or query.get("operator") != "eq" or not isinstance(value, str) \
            or "identifier" not in (client.allowed_fields or []) or "enrolment" not in (client.allowed_fields or []):
        answer.update(status="rjct", enrolled_status="no",
                      status_reason_message="query is {attribute_name: person_identifier, operator: eq, "
                                            "attribute_value: PIN}, for a sender allowed identifier and enrolment")
    else:
        person_id = db.session.scalar(select(Person.id).where(Person.pin == value[:20]))
        current = person_id is not None and db.session.scalar(select(Enrolment.id).where(
            Enrolment.beneficiary_person_id == person_id, Enrolment.status != "ended").limit(1)) is not None
        answer.update(status="succ", enrolled_status="yes" if current else "no")
        audit.record(RECORDS_SERVED, "dci_client", client.id, {
            "client": client.name, "purpose": client.purpose, "registry": IBR,
            "transaction_id": str(message["transaction_id"])[:99], "total": 1 if person_id else 0,
            "records": [f"person:{person_id}"] if person_id else []})
    return {"transaction_id": message["transaction_id"], "correlation_id": new_id(), "enrolled_response": [answer]}


def start_transaction(client: DciClient, registry: str, txn_type: str, envelope: dict,
                      callback_url: str | None) -> DciTransaction:
    txn = DciTransaction(client_id=client.id, registry_type=registry, txn_type=txn_type,
                         transaction_id=str(envelope["message"].get("transaction_id") or new_id())[:99],
                         correlation_id=new_id(), status="pdng", request=envelope, callback_url=callback_url)
    db.session.add(txn)
    db.session.flush()
    return txn


def txn_status(client: DciClient, envelope: dict) -> dict[str, Any]:
    """The `TxnStatusResponse` message for one of the sender's own transactions (others look unknown)."""
    message = envelope["message"]
    request = message["txnstatus_request"]
    attribute, value = request["attribute_type"], request["attribute_value"]
    stmt = select(DciTransaction).where(DciTransaction.client_id == client.id)
    if attribute == "correlation_id" and isinstance(value, str):
        stmt = stmt.where(DciTransaction.correlation_id == value)
    elif attribute == "transaction_id" and isinstance(value, str):
        stmt = stmt.where(DciTransaction.transaction_id == value)
    else:
        stmt = stmt.where(DciTransaction.id.is_(None))  # reference id lists are not tracked here
    txn = db.session.scalar(stmt.order_by(DciTransaction.id.desc()).limit(1))
    txn_type = request["txn_type"]
    if txn is not None and txn.response is not None:
        status = txn.response
    else:
        status = {"transaction_id": str(value if isinstance(value, str) else message["transaction_id"])[:99],
                  "correlation_id": txn.correlation_id if txn else new_id(), "search_response": []}
    return {"transaction_id": message["transaction_id"], "correlation_id": new_id(),
            "txnstatus_response": {"txn_type": txn_type, "txn_status": status}}


def subscribe(client: DciClient, envelope: dict, callback_url: str, registry: str = SOCIAL) -> dict[str, Any]:
    """The `SubscribeResponse` message: one subscription per item of a supported event type (no commit)."""
    message = envelope["message"]
    answers = []
    for item in message["subscribe_request"]:
        criteria = item["subscribe_criteria"]
        answer: dict[str, Any] = {"reference_id": item["reference_id"], "timestamp": timestamp()}
        event_type = criteria["reg_event_type"]
        if event_type not in EVENT_TYPES[registry]:
            answer.update(status="rjct", status_reason_code="rjct.notify_types.invalid",
                          status_reason_message=f"events served: {', '.join(EVENT_TYPES[registry]) or 'none'}")
            answers.append(answer)
            continue
        entity = records.GROUP if event_type == "REGISTER" else records.MEMBER
        try:
            records.subscription_filter(criteria.get("filter"), entity, client.allowed_fields or [])
        except records.BadQuery as exc:
            answer.update(status="rjct", status_reason_code="rjct.notify_details.invalid",
                          status_reason_message=str(exc)[:999])
            answers.append(answer)
            continue
        row = DciSubscription(code=new_id(), client_id=client.id, event_type=event_type,
                              record_type=str(criteria["notify_record_type"])[:80], filter=criteria.get("filter"),
                              callback_url=callback_url)
        db.session.add(row)
        db.session.flush()
        audit.record("dci.subscription_created", "dci_client", client.id,
                     {"client": client.name, "subscription": row.code, "event_type": event_type})
        answer.update(status="succ", subscriptions=[{
            "code": row.code, "status": "subscribe", "timestamp": timestamp(), "reg_event_type": event_type,
            "notify_record_type": row.record_type}])
        answers.append(answer)
    return {"transaction_id": message["transaction_id"], "correlation_id": new_id(), "subscribe_response": answers}


def unsubscribe(client: DciClient, envelope: dict) -> dict[str, Any]:
    """The `UnSubscribeResponse` message; codes of other senders look unknown (no commit)."""
    message = envelope["message"]
    statuses = []
    for code in message["subscription_codes"]:
        row = db.session.scalar(select(DciSubscription).where(DciSubscription.code == str(code)[:99],
                                                              DciSubscription.client_id == client.id))
        if row is not None and row.active:
            row.active, row.ended_at = False, utcnow()
            audit.record("dci.subscription_ended", "dci_client", client.id,
                         {"client": client.name, "subscription": row.code})
        if row is not None:
            statuses.append({"code": row.code, "status": "unsubscribe"})
    status = "succ" if len(statuses) == len(message["subscription_codes"]) else "rjct"
    answer: dict[str, Any] = {"transaction_id": message["transaction_id"], "correlation_id": new_id(),
                              "timestamp": timestamp(), "status": status, "subscription_status": statuses}
    if status == "rjct":
        answer.update(status_reason_code="rjct.subscription_code.invalid",
                      status_reason_message="unknown subscription code")
    return answer
