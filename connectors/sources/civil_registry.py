"""Civil registry (ZAGS) over DCI: births, deaths, marriages and divorces, in one signed search per family."""

from __future__ import annotations

from datetime import date

import httpx

from connectors import wire
from connectors.base import Connector, PullOutcome
from connectors.records import InvalidRecord, VitalEvent, validate
from connectors.transport.dci import IdQuery
from connectors.transport.errors import SourceError


class CivilRegistryConnector(Connector):
    """`client` is a `DCIClient` (connectors/transport/dci.py) over the source's X-Road service."""

    source_name = "civil_registry"
    _jwks = None  # (url, receiver id, keyring, http client): the registry's keys are fetched on first use

    def trust_from(self, jwks_url: str, sender_id: str, keyring, http) -> None:
        self._jwks = (jwks_url, sender_id, keyring, http)

    def _ensure_trust(self) -> None:
        """Trust the registry's published signing keys (JWKS) before the first search; retried until it works."""
        if self._jwks is None:
            return
        url, sender_id, keyring, http = self._jwks
        response = http.get(url, timeout=5)
        response.raise_for_status()
        keyring.trust_jwks(response.json(), sender_id=sender_id)
        self._jwks = None

    def normalize(self, pin, data):
        return [VitalEvent(pin, record["event"], date.fromisoformat(record["date"]), record.get("related_pin"))
                for record in data.get("records") or ()]

    def fetch(self, pins, *, window, user_id=None):
        queries = {pin: IdQuery(wire.PIN_ID_TYPE, pin) for pin in dict.fromkeys(pins)}
        try:
            self._ensure_trust()
        except (httpx.HTTPError, ValueError) as error:
            return {pin: PullOutcome(pin, "error", error=f"cannot load the registry's keys: {error}")
                    for pin in queries}
        try:
            search = self.client.search(list(queries.values()), user_id=user_id)
        except SourceError as error:
            return {pin: PullOutcome(pin, error.pull_status, error=str(error),
                                     request_id=getattr(error, "request_id", None)) for pin in queries}
        meta = {"latency_ms": search.transport.latency_ms, "attempts": search.transport.attempts,
                "request_id": search.transport.request_id}
        outcomes = {}
        for pin, query in queries.items():
            records = search.records_for(query)
            if not records:
                outcomes[pin] = PullOutcome(pin, "not_found", **meta)
                continue
            try:
                outcomes[pin] = PullOutcome(pin, "ok", validate(self.normalize(pin, {"records": records})), **meta)
            except (InvalidRecord, KeyError, TypeError, ValueError) as problem:
                outcomes[pin] = PullOutcome(pin, "error", error=f"malformed data: {problem}", **meta)
        return outcomes
