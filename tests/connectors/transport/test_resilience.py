"""Resilience policy, driven by a fake clock: no HTTP, no real sleeping (except the concurrency test)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from connectors.transport.errors import (
    CircuitOpen,
    SourceMalformed,
    SourceNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from connectors.transport.resilience import (
    DEFAULTS,
    CircuitBreaker,
    ConcurrencyLimit,
    RetryPolicy,
    SourcePolicy,
    TTLCache,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(error_factory, times: int, then=None):
    """fn(attempt) that raises error_factory() `times` times, then returns `then`; counts its calls."""
    calls = []

    def fn(attempt: int):
        calls.append(attempt)
        if len(calls) <= times:
            raise error_factory()
        return then

    fn.calls = calls
    return fn


# -- RetryPolicy -----------------------------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped():
    policy = RetryPolicy(attempts=6, base_delay=0.1, max_delay=0.5, jitter=False)
    assert [policy.delay(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_full_jitter_stays_within_the_cap_and_varies():
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=10, jitter=True, rng=random.Random(7))
    delays = [policy.delay(3) for _ in range(200)]
    assert all(0 <= d <= 0.4 for d in delays)
    assert max(delays) > 0.3 and min(delays) < 0.1  # spread over the whole [0, cap] range, not a fixed value


def test_retryable_error_is_retried_up_to_the_budget_with_backoff_sleeps():
    clock = FakeClock()
    policy = RetryPolicy(attempts=3, base_delay=0.1, max_delay=1, jitter=False, sleep=clock.sleep)
    fn = failing(lambda: SourceTimeout("slow"), times=10)
    with pytest.raises(SourceTimeout) as caught:
        policy.call(fn, idempotent=True)
    assert fn.calls == [1, 2, 3]
    assert caught.value.attempts == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])  # no sleep after the last attempt


def test_success_after_failures_reports_the_attempts():
    policy = RetryPolicy(attempts=4, base_delay=0, jitter=False, sleep=lambda s: None)
    value, attempts = policy.call(failing(lambda: SourceUnavailable("503"), times=2, then="ok"), idempotent=True)
    assert (value, attempts) == ("ok", 3)


@pytest.mark.parametrize("error", [SourceMalformed, SourceNotFound, SourceRejected, CircuitOpen])
def test_non_retryable_errors_are_not_retried(error):
    policy = RetryPolicy(attempts=5, base_delay=0, sleep=lambda s: None)
    fn = failing(lambda: error("x"), times=10)
    with pytest.raises(error):
        policy.call(fn, idempotent=True)
    assert len(fn.calls) == 1


def test_non_idempotent_call_is_not_retried_once_sent_but_is_when_never_sent():
    policy = RetryPolicy(attempts=3, base_delay=0, sleep=lambda s: None)
    sent = failing(lambda: SourceTimeout("read timeout"), times=10)
    with pytest.raises(SourceTimeout):
        policy.call(sent, idempotent=False)
    assert len(sent.calls) == 1

    refused = failing(lambda: SourceUnavailable("refused", request_sent=False), times=10)
    with pytest.raises(SourceUnavailable):
        policy.call(refused, idempotent=False)
    assert len(refused.calls) == 3


def test_retry_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


# -- CircuitBreaker --------------------------------------------------------------------------------------------


def test_breaker_opens_after_threshold_and_fails_fast():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.advance(9.9)
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(0.1)
    assert caught.value.request_sent is False and caught.value.transient


def test_breaker_half_opens_after_reset_with_a_single_probe():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.state == "half_open"
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a second caller while the probe is in flight
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_failed_probe_opens_the_breaker_again():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(6)
    breaker.before_call()
    breaker.record_failure()  # one failure is enough in half-open
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_not_found_and_rejections_are_answers_not_failures():
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5, clock=FakeClock())
    breaker.record(SourceTimeout("t"))
    breaker.record(SourceNotFound("no such person"))  # the source is up: the failure run is broken
    breaker.record(SourceRejected("400"))
    breaker.record(SourceTimeout("t"))
    assert breaker.state == "closed" and breaker.failures == 1
    breaker.record(SourceMalformed("garbage"))
    assert breaker.state == "open"


def test_bug_on_our_side_releases_the_probe_without_verdict():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=1, clock=clock)
    breaker.record_failure()
    clock.advance(1)
    breaker.before_call()
    breaker.record(KeyError("bug"))
    assert breaker.state == "half_open"
    breaker.before_call()  # a new probe may go


# -- ConcurrencyLimit ------------------------------------------------------------------------------------------


def test_concurrency_limit_times_out_without_a_slot():
    limit = ConcurrencyLimit(1, timeout=0.05)
    limit.acquire()
    started = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        limit.acquire()
    assert time.monotonic() - started >= 0.04
    assert caught.value.request_sent is False
    limit.release()
    with limit.slot():
        assert limit.in_flight == 1
    assert limit.in_flight == 0


def test_concurrency_limit_bounds_parallel_threads():
    limit = ConcurrencyLimit(3, timeout=5)
    def work():
        with limit.slot():
            time.sleep(0.02)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limit.peak == 3
    assert limit.in_flight == 0


# -- TTLCache --------------------------------------------------------------------------------------------------


def test_cache_entries_expire_after_ttl():
    clock = FakeClock()
    cache = TTLCache(ttl=10, clock=clock)
    cache.set("a", 1)
    clock.advance(9.99)
    assert cache.get("a") == 1
    clock.advance(0.01)
    assert cache.get("a") is None
    assert "a" not in cache


def test_cache_evicts_least_recently_used():
    cache = TTLCache(ttl=100, max_entries=2, clock=FakeClock())
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")  # a is now more recent than b
    cache.set("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3


def test_zero_ttl_disables_the_cache():
    cache = TTLCache(ttl=0)
    cache.set("a", 1)
    assert cache.get("a") is None and not cache.enabled


# -- SourcePolicy ----------------------------------------------------------------------------------------------


def test_policy_defaults():
    policy = SourcePolicy.from_config("tax")
    assert policy.name == "tax"
    assert policy.timeout == DEFAULTS["timeout"]
    assert policy.retry.attempts == DEFAULTS["retry"]["attempts"]
    assert policy.breaker.failure_threshold == DEFAULTS["breaker"]["failure_threshold"]
    assert policy.concurrency.limit == DEFAULTS["concurrency"]["limit"]
    assert policy.cache.ttl == DEFAULTS["cache"]["ttl"]


def test_policy_layers_source_config_over_app_defaults():
    app_defaults = {"timeout": 3, "retry": {"attempts": 4, "base_delay": 0.5}, "cache": 60}
    config = {"base_url": "http://ignored", "timeout": 1.5, "retry": {"attempts": 2}, "concurrency": 3,
              "breaker": {"reset_after": 7}}
    policy = SourcePolicy.from_config("cadastre", config, app_defaults)
    assert policy.timeout == 1.5
    assert policy.retry.attempts == 2 and policy.retry.base_delay == 0.5
    assert policy.concurrency.limit == 3
    assert policy.cache.ttl == 60
    assert policy.breaker.reset_after == 7
    assert policy.breaker.failure_threshold == DEFAULTS["breaker"]["failure_threshold"]


@pytest.mark.parametrize("config", [
    {"retry": {"attempt": 3}},         # typo
    {"retry": 3},                      # not a mapping
    {"timeout": 0},
    {"concurrency": 0},
    {"breaker": {"failure_threshold": 0}},
])
def test_policy_rejects_bad_config(config):
    with pytest.raises(ValueError):
        SourcePolicy.from_config("x", config)


def _policy(clock: FakeClock, **config) -> SourcePolicy:
    base = {"retry": {"attempts": 3, "base_delay": 0.01, "jitter": False}, "breaker": {"failure_threshold": 2,
            "reset_after": 30}, "cache": 60}
    base.update(config)
    return SourcePolicy.from_config("test", base, clock=clock, sleep=clock.sleep)


def test_policy_call_caches_idempotent_successes():
    clock = FakeClock()
    policy = _policy(clock)
    fn = failing(lambda: None, times=0, then={"v": 1})
    first = policy.call(fn, idempotent=True, cache_key="k")
    second = policy.call(fn, idempotent=True, cache_key="k")
    assert len(fn.calls) == 1
    assert (first.cached, first.attempts) == (False, 1)
    assert (second.cached, second.attempts, second.value) == (True, 0, {"v": 1})
    policy.call(fn, idempotent=False, cache_key="k")  # non-idempotent calls never use the cache
    assert len(fn.calls) == 2
    clock.advance(61)
    policy.call(fn, idempotent=True, cache_key="k")
    assert len(fn.calls) == 3


def test_policy_call_stops_retrying_when_the_breaker_opens():
    clock = FakeClock()
    policy = _policy(clock, retry={"attempts": 5, "base_delay": 0.01, "jitter": False})
    fn = failing(lambda: SourceUnavailable("503"), times=10)
    with pytest.raises(CircuitOpen) as caught:
        policy.call(fn, idempotent=True)
    assert len(fn.calls) == 2  # the third attempt met an open breaker
    assert caught.value.source == "test"
    assert caught.value.latency_ms is not None
    with pytest.raises(CircuitOpen):
        policy.call(fn, idempotent=True)
    assert len(fn.calls) == 2


def test_policy_errors_carry_attempts_and_source():
    clock = FakeClock()
    policy = _policy(clock, breaker={"failure_threshold": 10})
    with pytest.raises(SourceTimeout) as caught:
        policy.call(failing(lambda: SourceTimeout("t"), times=10), idempotent=True)
    assert caught.value.attempts == 3 and caught.value.source == "test"
    assert policy.breaker.failures == 3
