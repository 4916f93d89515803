"""Resilience policy for calls to external sources: retries, circuit breaker, concurrency limit, cache.

Pure policy: no HTTP here. Every piece is thread-safe and takes its clock (and sleep, and random generator)
as arguments, so tests drive it with a fake clock.

- `RetryPolicy(attempts, base_delay, max_delay, jitter)`: bounded retries with exponential back-off and "full
  jitter" (delay before retry *n* is uniform in `[0, min(max_delay, base_delay * 2**(n-1))]`). Only errors
  marked `retryable` are retried, and only for idempotent calls -- unless the request certainly never reached
  the source (`request_sent=False`, e.g. connection refused), which is safe to repeat for any call.
- `CircuitBreaker(failure_threshold, reset_after)`: closed -> open after `failure_threshold` consecutive
  failures; open fails fast (`CircuitOpen`) for `reset_after` seconds; then half-open lets one probe call
  through: success closes it, failure opens it again. Only errors with `counts_as_failure` count; a "not found"
  or a rejection proves the source is up and counts as a success. `allow_probe()` lets that one probe through
  before the wait is over: a person asking to try a source again right after it recovered is not made to wait.
- `ConcurrencyLimit(n, timeout)`: at most `n` calls in flight per source; waiting longer than `timeout` for a
  slot raises `SourceTimeout` (with `request_sent=False`).
- `TTLCache(ttl, max_entries)`: successful answers kept for `ttl` seconds, least recently used evicted first.
- `SourcePolicy`: the four above plus the per-attempt timeout for one source, built from a plain dict (so it
  can come from app config) with defaults; `SourcePolicy.call(fn, idempotent=..., cache_key=...)` composes
  them: cache -> for each attempt: breaker -> concurrency slot -> fn -> breaker bookkeeping -> back-off.

Configuration dict for `SourcePolicy.from_config` (every key optional; unknown keys inside the nested
sections are errors, other top-level keys such as `base_url` are ignored, they belong to the connector):

    {
        "timeout": 5.0,                 # seconds per attempt (read/write/pool)
        "connect_timeout": 2.0,         # seconds to connect (defaults to `timeout`)
        "retry": {"attempts": 3, "base_delay": 0.2, "max_delay": 2.0, "jitter": True},
        "breaker": {"failure_threshold": 5, "reset_after": 30.0},
        "concurrency": {"limit": 8, "acquire_timeout": 10.0},   # or just an int: the limit
        "cache": {"ttl": 300.0, "max_entries": 10000},          # or just a number: the ttl; 0 disables
    }
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.transport.errors import CircuitOpen, SourceError, SourceTimeout

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


# --------------------------------------------------------------------------------------------------------------
# Retry
# --------------------------------------------------------------------------------------------------------------


class RetryPolicy:
    """Bounded retries with exponential back-off and full jitter."""

    def __init__(
        self,
        attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 2.0,
        jitter: bool = True,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if int(attempts) < 1:
            raise ValueError("retry attempts must be at least 1")
        if base_delay < 0 or max_delay < 0:
            raise ValueError("retry delays must not be negative")
        self.attempts = int(attempts)
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.jitter = bool(jitter)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    def backoff_cap(self, retry_number: int) -> float:
        """The largest delay before retry number `retry_number` (1 = the first retry)."""
        return min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))

    def delay(self, retry_number: int) -> float:
        """The delay before retry number `retry_number`: full jitter, uniform in [0, cap]."""
        cap = self.backoff_cap(retry_number)
        if not self.jitter:
            return cap
        with self._rng_lock:
            return self._rng.uniform(0.0, cap)

    @staticmethod
    def should_retry(error: BaseException, *, idempotent: bool) -> bool:
        """Whether this error may be retried: retryable, and idempotent or certainly never sent."""
        if not isinstance(error, SourceError) or not error.retryable:
            return False
        return idempotent or not error.request_sent

    def call(self, fn: Callable[[int], T], *, idempotent: bool) -> tuple[T, int]:
        """Run `fn(attempt_number)` until it succeeds or may not be retried; return (result, attempts).

        On failure the last error is raised with `error.attempts` set.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn(attempt), attempt
            except SourceError as error:
                error.attempts = attempt
                if attempt >= self.attempts or not self.should_retry(error, idempotent=idempotent):
                    raise
            self._sleep(self.delay(attempt))

    def __repr__(self) -> str:
        return (f"RetryPolicy(attempts={self.attempts}, base_delay={self.base_delay}, max_delay={self.max_delay}, "
                f"jitter={self.jitter})")


# --------------------------------------------------------------------------------------------------------------
# Circuit breaker
# --------------------------------------------------------------------------------------------------------------


class CircuitBreaker:
    """closed -> open -> half-open -> closed (or open again)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __init__(self, failure_threshold: int = 5, reset_after: float = 30.0, *, clock: Clock = time.monotonic,
                 name: str | None = None) -> None:
        if int(failure_threshold) < 1:
            raise ValueError("breaker failure_threshold must be at least 1")
        if reset_after < 0:
            raise ValueError("breaker reset_after must not be negative")
        self.failure_threshold = int(failure_threshold)
        self.reset_after = float(reset_after)
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        """The current state; an open breaker whose wait is over reports half-open."""
        with self._lock:
            if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_after:
                return self.HALF_OPEN
            return self._state

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures

    def before_call(self) -> None:
        """Ask permission to call; raises `CircuitOpen` when the call must not be made."""
        with self._lock:
            if self._state == self.CLOSED:
                return
            now = self._clock()
            if self._state == self.OPEN:
                waited = now - self._opened_at
                if waited < self.reset_after:
                    raise CircuitOpen(f"circuit open for {self.reset_after - waited:.2f}s more",
                                      source=self.name, retry_after=self.reset_after - waited)
                self._state = self.HALF_OPEN
                self._probe_in_flight = False
            # Half-open: one probe at a time.
            if self._probe_in_flight:
                raise CircuitOpen("circuit half-open, probe in flight", source=self.name, retry_after=0.0)
            self._probe_in_flight = True

    def allow_probe(self) -> bool:
        """Half-open an open breaker now, so the next call is its one probe (a person asked to try the source
        again: it may have recovered before the wait is over). Returns whether the breaker was open."""
        with self._lock:
            if self._state != self.OPEN:
                return False
            self._state = self.HALF_OPEN
            self._probe_in_flight = False
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = self.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._probe_in_flight = False
            if self._state == self.HALF_OPEN:
                self._open()
                return
            self._failures += 1
            if self._state == self.CLOSED and self._failures >= self.failure_threshold:
                self._open()

    def record_neutral(self) -> None:
        """The call ended without telling anything about the source's health (e.g. a bug on our side)."""
        with self._lock:
            self._probe_in_flight = False

    def record(self, error: BaseException | None) -> None:
        """Book the outcome of a permitted call: None for success, or the exception it raised."""
        if error is None:
            self.record_success()
        elif isinstance(error, SourceError):
            if error.counts_as_failure:
                self.record_failure()
            else:
                self.record_success()
        else:
            self.record_neutral()

    def _open(self) -> None:
        self._state = self.OPEN
        self._opened_at = self._clock()

    def reset(self) -> None:
        with self._lock:
            self._state = self.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state}, failures={self.failures}/{self.failure_threshold})"


# --------------------------------------------------------------------------------------------------------------
# Concurrency limit
# --------------------------------------------------------------------------------------------------------------


class ConcurrencyLimit:
    """A semaphore with a timeout, that also reports how many calls are in flight (and the peak)."""

    def __init__(self, n: int = 8, timeout: float | None = 10.0, *, name: str | None = None) -> None:
        if int(n) < 1:
            raise ValueError("concurrency limit must be at least 1")
        self.limit = int(n)
        self.timeout = timeout
        self.name = name
        self._semaphore = threading.BoundedSemaphore(self.limit)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._peak = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def peak(self) -> int:
        with self._lock:
            return self._peak

    def acquire(self, timeout: float | None = None) -> None:
        wait = self.timeout if timeout is None else timeout
        if not self._semaphore.acquire(timeout=wait):
            raise SourceTimeout(f"no free slot among {self.limit} within {wait}s", source=self.name,
                                request_sent=False)
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._semaphore.release()

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[None]:
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()


# --------------------------------------------------------------------------------------------------------------
# TTL cache
# --------------------------------------------------------------------------------------------------------------

_MISSING = object()


class TTLCache:
    """A small thread-safe LRU cache whose entries expire `ttl` seconds after they were stored."""

    def __init__(self, ttl: float, max_entries: int = 10_000, *, clock: Clock = time.monotonic) -> None:
        if ttl < 0:
            raise ValueError("cache ttl must not be negative")
        if int(max_entries) < 1:
            raise ValueError("cache max_entries must be at least 1")
        self.ttl = float(ttl)
        self.max_entries = int(max_entries)
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entry = self._data.get(key, _MISSING)
            if entry is _MISSING:
                self.misses += 1
                return default
            expires_at, value = entry
            if self._clock() >= expires_at:
                del self._data[key]
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def set(self, key: Hashable, value: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._data[key] = (self._clock() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def invalidate(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for expires_at, _ in self._data.values() if now < expires_at)


# --------------------------------------------------------------------------------------------------------------
# Per-source policy
# --------------------------------------------------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "timeout": 5.0,
    "connect_timeout": None,
    "retry": {"attempts": 3, "base_delay": 0.2, "max_delay": 2.0, "jitter": True},
    "breaker": {"failure_threshold": 5, "reset_after": 30.0},
    "concurrency": {"limit": 8, "acquire_timeout": 10.0},
    "cache": {"ttl": 300.0, "max_entries": 10_000},
}

_SECTION_KEYS = {
    "retry": {"attempts", "base_delay", "max_delay", "jitter"},
    "breaker": {"failure_threshold", "reset_after"},
    "concurrency": {"limit", "acquire_timeout"},
    "cache": {"ttl", "max_entries"},
}
_SHORTHAND = {"concurrency": "limit", "cache": "ttl"}


def _section(name: str, *layers: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        if not layer or name not in layer or layer[name] is None:
            continue
        value = layer[name]
        if not isinstance(value, Mapping):
            if name not in _SHORTHAND:
                raise ValueError(f"policy section {name!r} must be a mapping, got {value!r}")
            value = {_SHORTHAND[name]: value}
        unknown = set(value) - _SECTION_KEYS[name]
        if unknown:
            raise ValueError(f"unknown keys in policy section {name!r}: {sorted(unknown)}")
        merged.update(value)
    return merged


def _scalar(name: str, *layers: Mapping[str, Any] | None) -> Any:
    value = None
    for layer in layers:
        if layer and layer.get(name) is not None:
            value = layer[name]
    return value


@dataclass(frozen=True)
class SourcePolicy:
    """Everything that governs calls to one source. One instance per source, shared by all its callers."""

    name: str = "default"
    timeout: float = 5.0
    connect_timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    concurrency: ConcurrencyLimit = field(default_factory=ConcurrencyLimit)
    cache: TTLCache = field(default_factory=lambda: TTLCache(ttl=300.0))

    @classmethod
    def from_config(
        cls,
        name: str,
        config: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> SourcePolicy:
        """Build from plain dicts: built-in `DEFAULTS`, then `defaults` (e.g. app-wide), then `config`."""
        layers = (DEFAULTS, defaults, config)
        timeout = float(_scalar("timeout", *layers))
        connect = _scalar("connect_timeout", *layers)
        if timeout <= 0 or (connect is not None and float(connect) <= 0):
            raise ValueError(f"{name}: timeouts must be positive")
        retry = _section("retry", *layers)
        breaker = _section("breaker", *layers)
        concurrency = _section("concurrency", *layers)
        cache = _section("cache", *layers)
        return cls(
            name=name,
            timeout=timeout,
            connect_timeout=None if connect is None else float(connect),
            retry=RetryPolicy(int(retry["attempts"]), float(retry["base_delay"]), float(retry["max_delay"]),
                              bool(retry["jitter"]), sleep=sleep, rng=rng),
            breaker=CircuitBreaker(int(breaker["failure_threshold"]), float(breaker["reset_after"]), clock=clock,
                                   name=name),
            concurrency=ConcurrencyLimit(int(concurrency["limit"]),
                                         None if concurrency["acquire_timeout"] is None
                                         else float(concurrency["acquire_timeout"]), name=name),
            cache=TTLCache(float(cache["ttl"]), int(cache["max_entries"]), clock=clock),
        )

    def call(self, fn: Callable[[int], T], *, idempotent: bool, cache_key: Hashable | None = None) -> CallOutcome:
        """Run `fn(attempt_number)` under this policy; return a `CallOutcome`.

        `cache_key` (only honoured for idempotent calls): a hit returns the cached value without calling `fn`;
        a success is stored. Errors are raised with `attempts` and `latency_ms` set, and `source` filled in.
        """
        use_cache = idempotent and cache_key is not None and self.cache.enabled
        started = time.perf_counter()
        if use_cache:
            cached = self.cache.get(cache_key, _MISSING)
            if cached is not _MISSING:
                return CallOutcome(cached, attempts=0, cached=True,
                                   latency_ms=(time.perf_counter() - started) * 1000)

        def attempt(number: int) -> T:
            self.breaker.before_call()
            try:
                self.concurrency.acquire()
            except BaseException:
                # No free slot: says nothing about the source's health; give back a half-open probe.
                self.breaker.record_neutral()
                raise
            try:
                value = fn(number)
            except BaseException as error:
                self.breaker.record(error)
                raise
            finally:
                self.concurrency.release()
            self.breaker.record_success()
            return value

        try:
            value, attempts = self.retry.call(attempt, idempotent=idempotent)
        except SourceError as error:
            error.latency_ms = (time.perf_counter() - started) * 1000
            if error.source is None:
                error.source = self.name
            raise
        if use_cache:
            self.cache.set(cache_key, value)
        return CallOutcome(value, attempts=attempts, cached=False, latency_ms=(time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class CallOutcome:
    """What `SourcePolicy.call` returns: the value, how many attempts it took, whether it came from the cache."""

    value: Any
    attempts: int
    cached: bool
    latency_ms: float


__all__ = ["DEFAULTS", "CallOutcome", "CircuitBreaker", "ConcurrencyLimit", "RetryPolicy", "SourcePolicy", "TTLCache"]
