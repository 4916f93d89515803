"""Jobs of the DCI registry server: answering async searches and POSTing callbacks and notifications.

A callback goes only to a URL the sender registered (checked when the request came in, and again here, since
the sender's registration may have changed since). Delivery failures are retried; the answer itself is kept
with the transaction, so `txn/status` reports it even when the callback never arrives.
"""

from __future__ import annotations

from typing import Any

import httpx

from modules.dci import messages, operations, records
from modules.dci.models import DciSubscription, DciTransaction
from webapp import audit
from webapp.extensions import db
from webapp.jobs import Retry, task
from webapp.timeutil import utcnow

DELIVERY_RETRY = Retry(attempts=4, backoff=30, transient=(httpx.HTTPError,))
CALLBACK_ENDPOINTS = {"on-search": "/registry/on-search", "on-subscribe": "/registry/on-subscribe",
                      "on-unsubscribe": "/registry/on-unsubscribe", "txn-on-status": "/registry/txn/on-status",
                      "notify": "/registry/notify"}
_RESPONSE_KEYS = {"on-search": "search_response", "on-subscribe": "subscribe_response",
                  "on-unsubscribe": "subscription_status"}


def _post(url: str, body: dict[str, Any]) -> None:
    response = httpx.post(url, json=body, timeout=10, follow_redirects=False)
    if response.status_code >= 500:
        raise httpx.HTTPStatusError(f"callback answered {response.status_code}", request=response.request,
                                    response=response)


def _count(action: str, message: dict[str, Any]) -> int:
    items = message.get(_RESPONSE_KEYS.get(action, ""))
    return len(items) if isinstance(items, list) else 1


def _send(txn: DciTransaction, action: str) -> None:
    if not txn.callback_url or txn.callback_url not in (txn.client.callback_urls or []):
        return
    body = messages.envelope(action, txn.response, receiver_id=txn.request["header"].get("sender_id"),
                             total_count=_count(action, txn.response))
    messages.check_outgoing(txn.registry_type, CALLBACK_ENDPOINTS[action], body, part="request")
    _post(txn.callback_url, body)
    txn.delivered_at = utcnow()


@task("default", retry=DELIVERY_RETRY, timeout=120)
def answer_search(job_id: str, transaction: int) -> None:
    """Run an async search (once: a retry only delivers again) and POST the on-search to the sender."""
    txn = db.session.get(DciTransaction, transaction)
    if txn is None or txn.delivered_at is not None:
        return
    if txn.response is None:
        txn.response = operations.search(txn.client, txn.registry_type, txn.request, txn.correlation_id)
        txn.status = "succ"
        db.session.flush()
    _send(txn, "on-search")


@task("default", retry=DELIVERY_RETRY, timeout=120)
def deliver(job_id: str, transaction: int, action: str) -> None:
    """POST an answer already made (on-subscribe, on-unsubscribe, txn on-status) to the sender."""
    txn = db.session.get(DciTransaction, transaction)
    if txn is None or txn.delivered_at is not None or txn.response is None:
        return
    _send(txn, action)


@task("default", retry=DELIVERY_RETRY, timeout=120)
def notify(job_id: str, subscription: int, event_type: str, entity: str, object_id: int) -> None:
    """Notify one subscriber of one event: the record as its policy allows, signed, to its callback URL."""
    from modules.registration.models import Household, Person

    row = db.session.get(DciSubscription, subscription)
    if row is None or not row.active or row.callback_url not in (row.client.callback_urls or []):
        return
    allowed = set(row.client.allowed_fields or [])
    try:
        wanted = records.matches(entity, object_id, records.subscription_filter(row.filter, entity, allowed))
    except records.BadQuery:  # the sender's policy narrowed since it subscribed
        wanted = False
    if not wanted:
        return
    if entity == records.GROUP:
        obj = db.session.get(Household, object_id)
        record = records.group_record(obj, allowed, "uz") if obj else None
    else:
        obj = db.session.get(Person, object_id)
        members = records.memberships([object_id]) if obj else {}
        record = records.member_record(obj, allowed, "uz", members.get(object_id)) if obj else None
    if record is None:
        return
    from connectors.transport.dci import VERSION, new_id, timestamp

    message = {"transaction_id": new_id(), "notify_event": [{
        "reference_id": new_id(), "timestamp": timestamp(),
        "data": {"version": VERSION, "reg_type": "ns:org:RegistryType:Social", "reg_event_type": event_type,
                 "reg_record_type": operations.RECORD_TYPES[entity], "reg_records": record}}]}
    body = messages.envelope("notify", message, receiver_id=None, total_count=1)
    messages.check_outgoing("social", "/registry/notify", body, part="request")
    _post(row.callback_url, body)
    audit.record(operations.RECORDS_SERVED, "dci_client", row.client_id, {
        "client": row.client.name, "purpose": row.client.purpose, "registry": "social", "subscription": row.code,
        "total": 1, "records": [f"{'household' if entity == records.GROUP else 'person'}:{object_id}"]})
