"""Births and deaths pushed by the civil registry (DCI subscribe + notify), the registry's side.

- `srsp sources subscribe --callback-url URL` subscribes to live births and deaths at the civil registry through
  the civil-registry connector's `DCIClient` (our signed subscribe request; `sender_uri` is the callback URL).
- `POST /api/v1/dci/on-search` receives the results of an async search (a civil registry configured with
  `search: async`, connectors/registry.py) and hands them to the search waiting for them in this process;
  `POST /api/v1/dci/on-subscribe` and `/api/v1/dci/on-unsubscribe` receive the registry's confirmation of a
  subscription or of its end (the codes are logged; `srsp sources unsubscribe CODE...` ends one).
  Both check the registry's signature (an unsigned one only when the source accepts unsigned replies).
- `POST /api/v1/dci/notify` (`bp`) receives the signed notify the registry then sends: the signature is checked
  with our keyring, trusting the civil registry's published JWKS (the connector's own trust set-up), and it must be
  the civil registry that signed. A death sets `Person.death_date` of a person the registry knows (other PINs are
  counted and ignored) and is audited as "person.death_recorded"; a birth is audited as "person.birth_notified".
  Replaying a notify changes nothing more: a death already recorded with that date, or a birth already notified,
  is skipped. Everything is checked before anything is written, and written in one commit (the request's).
- A recorded death is sent as `person_death_recorded` (webapp/signals.py): the alerts (modules/grievances/alerts.py)
  suspend the deceased's enrolments and open one alert case for the household, in the same commit. A birth
  notified for the first time is sent as `person_birth_notified`, with the parent's PIN the record carries: the
  alerts open one case proposing the child allowance when the parent's household receives benefits.

The routes are called by the registry, not by a browser: the app must exempt `bp` from CSRF protection. The signed
transport (envelopes, signatures, acks) is the connector's, in connectors/transport/dci.py.
"""

from __future__ import annotations

from datetime import date

import click
import httpx
from flask import Blueprint, current_app, jsonify, request
from flask.cli import with_appcontext
from sqlalchemy import select

from connectors.registry import connectors_for
from connectors.transport.dci import (
    EVENT_BIRTH,
    EVENT_DEATH,
    NOTIFY,
    ON_SEARCH,
    ON_SUBSCRIBE,
    ON_UNSUBSCRIBE,
    NotifyEvent,
    build_ack,
    event_kind,
    open_envelope,
    receive_notify,
    receive_on_subscribe,
)
from connectors.transport.errors import SignatureInvalid, SourceError
from modules.registration.models import Person
from webapp import audit, signals
from webapp.extensions import db
from webapp.guard import InputRefused, read_json
from webapp.models.audit import AuditEvent

SOURCE = "civil_registry"
NOTIFY_PATH = "/api/v1/dci/notify"
ON_SEARCH_PATH = "/api/v1/dci/on-search"
ON_SUBSCRIBE_PATH = "/api/v1/dci/on-subscribe"
ON_UNSUBSCRIBE_PATH = "/api/v1/dci/on-unsubscribe"
DEATH_RECORDED = "person.death_recorded"
BIRTH_NOTIFIED = "person.birth_notified"

bp = Blueprint("civil_events", __name__)


class _Malformed(ValueError):
    pass


def _error(status: int, code: str, message: str):
    return jsonify(build_ack(ack_status="ERR", error=(code, message))), status


def _event(event: NotifyEvent) -> tuple[str, str, date, str | None] | None:
    """(kind, PIN, date, related PIN) of a birth or death; None for another event type. Raises `_Malformed`.

    A birth's related PIN is the mother's (the civil registry's record of a birth names the child and the mother)."""
    kind = event_kind(event.event_type) or event.record.get("event")
    if kind not in ("birth", "death"):
        return None
    pin, when = event.record.get("pin"), event.record.get("date")
    if not isinstance(pin, str) or not pin or not isinstance(when, str):
        raise _Malformed(f"event {event.reference_id}: a {kind} record needs `pin` and `date`")
    if event.record.get("event") not in (None, kind):
        raise _Malformed(f"event {event.reference_id}: reg_event_type and record disagree")
    related = event.record.get("related_pin")
    related = related if isinstance(related, str) and related else None  # optional: only a birth's alert reads it
    try:
        return kind, pin, date.fromisoformat(when), related
    except ValueError as exc:
        raise _Malformed(f"event {event.reference_id}: bad date {when!r}") from exc


def _envelope(kind: str):
    """The request's DCI envelope, or the error response to send."""
    try:
        envelope = read_json(request.get_data(cache=False) or b"null")
    except InputRefused as refused:
        return None, _error(400, "err.request.bad", refused.message)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if not isinstance(envelope, dict):
        return None, _error(400, "err.request.bad", f"the body must be a DCI {kind} envelope (JSON object)")
    return envelope, None


def _trusted_connector(kind: str):
    """The civil registry's connector with the registry's keys loaded, or the error response to send."""
    connector = connectors_for(current_app)[SOURCE]
    try:
        connector._ensure_trust()  # the civil registry's JWKS, fetched once (as before the first search)
    except (httpx.HTTPError, ValueError) as exc:
        current_app.logger.warning("DCI %s: cannot load the civil registry's keys: %s", kind, exc)
        return None, _error(503, "err.service.unavailable", "cannot load the civil registry's signing keys")
    return connector, None


@bp.post(ON_SEARCH_PATH)
def on_search():
    """The results of an async search (the connector's `search: async`), handed to the search waiting for them."""
    envelope, refused = _envelope("on-search")
    connector, unavailable = (None, None) if refused else _trusted_connector("on-search")
    if refused or unavailable:
        return refused or unavailable
    client = connector.client
    try:
        delivered = client.receive_on_search(envelope)
    except SignatureInvalid as exc:
        current_app.logger.warning("DCI on-search refused: %s", exc)
        return _error(401, "err.signature.invalid", str(exc))
    except SourceError as exc:
        return _error(400, "err.request.bad", str(exc))
    if not delivered:  # late (the search gave up) or for another worker: acknowledged, and dropped
        current_app.logger.info("DCI on-search %s: no search waits for it", envelope["message"].get("transaction_id"))
    ack = build_ack(correlation_id=envelope["message"].get("correlation_id"))
    if client.schemas is not None:
        client.schemas.validate_outgoing(client.registry, ON_SEARCH, ack, part="response")
    return jsonify(ack)


@bp.post(ON_SUBSCRIBE_PATH)
def on_subscribe():
    """The civil registry confirms a subscription (`srsp sources subscribe`) with its codes: logged, acknowledged."""
    envelope, refused = _envelope("on-subscribe")
    connector, unavailable = (None, None) if refused else _trusted_connector("on-subscribe")
    if refused or unavailable:
        return refused or unavailable
    client = connector.client
    try:
        codes = receive_on_subscribe(envelope, keyring=client.reply_keyring(envelope), schemas=client.schemas,
                                     registry=client.registry, source=SOURCE)
    except SignatureInvalid as exc:
        current_app.logger.warning("DCI on-subscribe refused: %s", exc)
        return _error(401, "err.signature.invalid", str(exc))
    except SourceError as exc:
        return _error(400, "err.request.bad", str(exc))
    if envelope["header"].get("sender_id") != client.receiver_id:
        return _error(401, "err.sender_id.invalid", f"on-subscribe is accepted from {client.receiver_id!r} only")
    current_app.logger.info("DCI on-subscribe %s: subscription codes %s", envelope["message"].get("transaction_id"),
                            ", ".join(sorted(set(codes.values()))) or "none")
    ack = build_ack(correlation_id=envelope["message"].get("correlation_id"))
    if client.schemas is not None:
        client.schemas.validate_outgoing(client.registry, ON_SUBSCRIBE, ack, part="response")
    return jsonify(ack)


@bp.post(ON_UNSUBSCRIBE_PATH)
def on_unsubscribe():
    """The civil registry confirms the end of subscriptions (`srsp sources unsubscribe`): logged, acknowledged."""
    envelope, refused = _envelope("on-unsubscribe")
    connector, unavailable = (None, None) if refused else _trusted_connector("on-unsubscribe")
    if refused or unavailable:
        return refused or unavailable
    client = connector.client
    try:
        open_envelope(envelope, keyring=client.reply_keyring(envelope), schemas=client.schemas,
                      registry=client.registry, endpoint=ON_UNSUBSCRIBE, part="request", source=SOURCE)
    except SignatureInvalid as exc:
        return _error(401, "err.signature.invalid", str(exc))
    except SourceError as exc:
        return _error(400, "err.request.bad", str(exc))
    if envelope["header"].get("sender_id") != client.receiver_id:
        return _error(401, "err.sender_id.invalid", f"on-unsubscribe is accepted from {client.receiver_id!r} only")
    message = envelope["message"]
    ended = [str(item.get("code")) for item in message.get("subscription_status") or () if isinstance(item, dict)]
    current_app.logger.info("DCI on-unsubscribe %s: %s, ended %s", message.get("transaction_id"),
                            message.get("status"), ", ".join(ended) or "none")
    return jsonify(build_ack(correlation_id=message.get("correlation_id")))


@bp.post(NOTIFY_PATH)
def notify():
    envelope, refused = _envelope("notify")
    connector, unavailable = (None, None) if refused else _trusted_connector("notify")
    if refused or unavailable:
        return refused or unavailable
    client = connector.client
    try:
        notification = receive_notify(envelope, keyring=client.keyring, schemas=client.schemas,
                                      registry=client.registry, source=SOURCE)
    except SignatureInvalid as exc:
        current_app.logger.warning("DCI notify refused: %s", exc)
        return _error(401, "err.signature.invalid", str(exc))
    except SourceError as exc:  # SourceMalformed (shape, schema), SourceRejected (a rjct header)
        return _error(400, "err.request.bad", str(exc))
    # The signature is bound to header.sender_id; our own key verifies too (for loopback), so insist on the registry.
    if notification.sender_id != client.receiver_id:
        return _error(401, "err.sender_id.invalid", f"notifications are accepted from {client.receiver_id!r} only")
    receiver = envelope["header"].get("receiver_id")
    if receiver not in (None, client.keyring.sender_id):
        return _error(400, "err.receiver_id.invalid", f"addressed to {receiver!r}, not to us")
    try:
        events = [parsed for event in notification.events if (parsed := _event(event))]
    except _Malformed as exc:
        return _error(400, "err.request.bad", str(exc))

    counts = apply_events(events, notification.message_id)
    current_app.logger.info("DCI notify %s: %s", notification.message_id, counts)
    ack = build_ack(correlation_id=notification.transaction_id)
    if client.schemas is not None:
        client.schemas.validate_outgoing(client.registry, NOTIFY, ack, part="response")
    return jsonify(ack)


def apply_events(events: list[tuple], message_id: str) -> dict[str, int]:
    """Record deaths and births (no commit); returns what happened, by outcome. Each event is (kind, PIN, date)
    or (kind, PIN, date, related PIN)."""
    counts = {"deaths_recorded": 0, "births_notified": 0, "unchanged": 0, "unknown_pins": 0}
    for kind, pin, when, *more in events:
        related = more[0] if more else None
        if kind == "death":
            person = db.session.scalar(select(Person).where(Person.pin == pin))
            if person is None:  # not (yet) in the registry's copy of the population register: nothing to update
                counts["unknown_pins"] += 1
            elif person.death_date == when:
                counts["unchanged"] += 1
            else:
                previous = person.death_date
                person.death_date = when
                audit.record(DEATH_RECORDED, "person", person.id,
                             {"pin": pin, "death_date": when.isoformat(),
                              "previous_death_date": previous.isoformat() if previous else None,
                              "source": SOURCE, "message_id": message_id})
                counts["deaths_recorded"] += 1
                # Alerts (modules/grievances) open a case and suspend the deceased's enrolments, in this commit.
                signals.person_death_recorded.send(person, death_date=when, source=SOURCE, message_id=message_id)
        else:
            # The child is not added here: the registry's copy of the population register picks the child up on
            # its next refresh. We only keep a trace that the civil registry told us.
            seen = db.session.scalar(select(AuditEvent.id).where(
                AuditEvent.action == BIRTH_NOTIFIED, AuditEvent.object_type == "person",
                AuditEvent.object_id == pin).limit(1))
            if seen is not None:
                counts["unchanged"] += 1
                continue
            audit.record(BIRTH_NOTIFIED, "person", pin,
                         {"pin": pin, "birth_date": when.isoformat(), "source": SOURCE, "message_id": message_id})
            counts["births_notified"] += 1
            # Alerts (modules/grievances) propose the child allowance to a household receiving benefits.
            signals.person_birth_notified.send(None, pin=pin, birth_date=when, related_pin=related, source=SOURCE,
                                               message_id=message_id)
    return counts


# -- commands ----------------------------------------------------------------------------------------------------


@click.group(help="External data sources.")
def sources():
    pass


@sources.command("subscribe", help="Subscribe to births and deaths at the civil registry (DCI); the registry will "
                 f"POST signed notifications to the callback URL (this app's {NOTIFY_PATH}).")
@click.option("--callback-url", required=True, help=f"Our notify URL as the registry reaches it, e.g. "
              f"https://srsp.example.uz{NOTIFY_PATH}.")
@click.option("--event", "events", multiple=True, default=(EVENT_BIRTH, EVENT_DEATH), show_default=True,
              help="An event type as the registry spells it (e.g. BIRTH, DEATH); repeat for several.")
@with_appcontext
def sources_subscribe(callback_url: str, events: tuple[str, ...]) -> None:
    unknown = [event for event in events if event_kind(event) is None]
    if unknown:
        raise click.BadParameter(f"not a birth or a death: {', '.join(unknown)}", param_hint="--event")
    client = connectors_for(current_app)[SOURCE].client
    try:
        ack, _envelope = client.subscribe(list(events), sender_uri=callback_url)
    except SourceError as exc:
        raise click.ClickException(f"subscribe failed: {exc}") from exc
    click.echo(f"ack_status={ack.ack_status} correlation_id={ack.correlation_id} timestamp={ack.timestamp}")
    if ack.ack_status != "ACK":
        raise click.ClickException(f"the civil registry did not accept the subscription: {ack.ack_status} "
                                   f"{ack.error_code or ''} {ack.error_message or ''}".strip())


@sources.command("unsubscribe", help="End subscriptions at the civil registry (DCI) by their codes (the "
                 "registry's on-subscribe gives them; they are logged).")
@click.argument("codes", nargs=-1, required=True)
@click.option("--callback-url", help=f"Where the registry sends its on-unsubscribe (e.g. "
              f"https://srsp.example.uz{ON_UNSUBSCRIBE_PATH}); none: no confirmation.")
@with_appcontext
def sources_unsubscribe(codes: tuple[str, ...], callback_url: str | None) -> None:
    client = connectors_for(current_app)[SOURCE].client
    try:
        ack = client.unsubscribe(list(codes), sender_uri=callback_url)
    except SourceError as exc:
        raise click.ClickException(f"unsubscribe failed: {exc}") from exc
    click.echo(f"ack_status={ack.ack_status} correlation_id={ack.correlation_id} timestamp={ack.timestamp}")


def register_commands(app) -> None:
    app.cli.add_command(sources)
