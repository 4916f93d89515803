"""What every registry connector is: a catalog entry, a client, and `normalize()` into canonical records.

`fetch()` asks for a whole family in one batch call (wire.py) and answers per PIN with a `PullOutcome` —
what the collection job records as one `data_pull` row. A failed call fails every PIN of the batch alike;
a malformed answer for one person is that person's error, not the family's. A registry without the batch lookup
(`batch=False`) is asked one person per request, the family's requests at once, so it still costs one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from connectors import wire
from connectors.catalog import BY_NAME, Source
from connectors.records import InvalidRecord, Record, validate
from connectors.transport.errors import SourceError, SourceMalformed

MAX_PERSON_REQUESTS = 8  # a registry without the batch lookup: requests in flight for one family at most


@dataclass
class PullOutcome:
    pin: str
    status: str                      # ok | not_found | error | timeout (data_pull.status)
    records: list[Record] = field(default_factory=list)
    latency_ms: float = 0.0
    attempts: int = 0
    request_id: str | None = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status in ("ok", "not_found")


def income_window(application_day: date, months: int = 12) -> tuple[str, str]:
    """The `months` full calendar months before the application month, as (from, to) YYYY-MM (inclusive)."""
    year, month = application_day.year, application_day.month
    index = year * 12 + month - 1  # months since year 0
    first, last = index - months, index - 1
    return f"{first // 12:04d}-{first % 12 + 1:02d}", f"{last // 12:04d}-{last % 12 + 1:02d}"


class Connector:
    """One registry. Subclasses set `source_name` and implement `normalize(pin, data)`."""

    source_name: ClassVar[str]

    def __init__(self, client, *, batch: bool | None = None) -> None:
        self.client = client
        self.batch = self.source.batch if batch is None else batch

    @property
    def source(self) -> Source:
        return BY_NAME[self.source_name]

    @property
    def data_types(self) -> tuple[str, ...]:
        return self.source.record_kinds

    @property
    def legal_basis(self) -> str:
        return self.source.legal_basis

    def normalize(self, pin: str, data: dict[str, Any]) -> list[Record]:
        raise NotImplementedError

    def allow_probe(self) -> bool:
        """Let the next call through an open circuit breaker as its one half-open probe (see
        `CircuitBreaker.allow_probe`); returns whether the breaker was open."""
        transport = getattr(self.client, "transport", self.client)  # a DCI client runs over an X-Road client
        policy = getattr(transport, "policy", None)
        return bool(policy is not None and policy.breaker.allow_probe())

    def fetch(self, pins: Iterable[str], *, window: tuple[str, str], user_id: str | None = None
              ) -> dict[str, PullOutcome]:
        pins = list(dict.fromkeys(pins))
        if not self.batch:
            return self._fetch_each(pins, window, user_id)
        outcomes: dict[str, PullOutcome] = {}
        for start in range(0, len(pins), wire.MAX_BATCH):
            outcomes.update(self._fetch_batch(pins[start:start + wire.MAX_BATCH], window, user_id))
        return outcomes

    def _fetch_batch(self, pins: list[str], window: tuple[str, str], user_id: str | None) -> dict[str, PullOutcome]:
        params = [(wire.PIN_PARAM, pin) for pin in pins] + [(wire.FROM_PARAM, window[0]), (wire.TO_PARAM, window[1])]
        try:
            result = self.client.get(wire.BATCH_PATH, params=params, user_id=user_id, check=_check_results)
        except SourceError as error:
            return {pin: PullOutcome(pin, error.pull_status, error=str(error),
                                     request_id=getattr(error, "request_id", None)) for pin in pins}
        answers = {item["pin"]: item for item in result.json["results"]}
        meta = {"latency_ms": result.latency_ms, "attempts": result.attempts, "request_id": result.request_id}
        return {pin: self._outcome(pin, answers.get(pin), meta) for pin in pins}

    def _fetch_each(self, pins: list[str], window: tuple[str, str], user_id: str | None) -> dict[str, PullOutcome]:
        if len(pins) <= 1:
            return {pin: self._fetch_one(pin, window, user_id) for pin in pins}
        with ThreadPoolExecutor(max_workers=min(len(pins), MAX_PERSON_REQUESTS)) as pool:
            return dict(zip(pins, pool.map(lambda pin: self._fetch_one(pin, window, user_id), pins), strict=True))

    def _fetch_one(self, pin: str, window: tuple[str, str], user_id: str | None) -> PullOutcome:
        params = [(wire.FROM_PARAM, window[0]), (wire.TO_PARAM, window[1])]
        try:
            result = self.client.get(wire.PERSON_PATH.format(pin=pin), params=params, user_id=user_id,
                                     check=_check_person)
        except SourceError as error:  # a 404 with a JSON body is SourceNotFound: the registry does not know them
            return PullOutcome(pin, error.pull_status, error=None if error.pull_status == "not_found" else str(error),
                               request_id=getattr(error, "request_id", None))
        meta = {"latency_ms": result.latency_ms, "attempts": result.attempts, "request_id": result.request_id}
        if result.json["pin"] != pin:
            return PullOutcome(pin, "error", error="the source answered for another PIN", **meta)
        return self._outcome(pin, result.json, meta)

    def _outcome(self, pin: str, answer: dict | None, meta: dict) -> PullOutcome:
        if answer is None:
            return PullOutcome(pin, "error", error="the source did not answer for this PIN", **meta)
        if not answer.get("found"):
            return PullOutcome(pin, "not_found", **meta)
        try:
            return PullOutcome(pin, "ok", validate(self.normalize(pin, answer.get("data") or {})), **meta)
        except (InvalidRecord, KeyError, TypeError, ValueError) as problem:
            return PullOutcome(pin, "error", error=f"malformed data: {problem}", **meta)


def _check_results(body: Any) -> None:
    """Inside each attempt: an answer without the batch shape is that attempt's failure (and never cached)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list) or not all(
            isinstance(item, dict) and isinstance(item.get("pin"), str) for item in body["results"]):
        raise SourceMalformed("the answer is not {\"results\": [{\"pin\": …}, …]}")


def _check_person(body: Any) -> None:
    """Inside each attempt: a one-person answer without its shape is that attempt's failure (and never cached)."""
    if not isinstance(body, dict) or not isinstance(body.get("pin"), str):
        raise SourceMalformed("the answer is not {\"pin\": …, \"found\": …}")


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
