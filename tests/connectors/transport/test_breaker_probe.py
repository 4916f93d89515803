"""A person's retry may probe a source behind an open circuit breaker at once, instead of waiting out the breaker."""

from __future__ import annotations

import pytest

from connectors.sources.tax import TaxConnector
from connectors.transport.errors import CircuitOpen
from connectors.transport.resilience import CircuitBreaker, SourcePolicy


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def open_breaker(clock) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=1, reset_after=3600, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    return breaker


def test_allow_probe_lets_exactly_one_call_through_an_open_breaker():
    breaker = open_breaker(Clock())
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # without a probe, the breaker fails fast for its whole wait
    assert breaker.allow_probe() is True
    assert breaker.state == "half_open"
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a second caller while the probe is in flight
    breaker.record_success()
    assert breaker.state == "closed"


def test_a_failed_probe_opens_the_breaker_for_a_new_wait():
    clock = Clock()
    breaker = open_breaker(clock)
    breaker.allow_probe()
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_allow_probe_does_nothing_to_a_closed_breaker():
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10, clock=Clock())
    breaker.record_failure()
    assert breaker.allow_probe() is False
    assert breaker.state == "closed" and breaker.failures == 1


class _Transport:
    def __init__(self, policy):
        self.policy = policy


class _Dci:
    """What a DCI client looks like to a connector: the X-Road transport under `transport`."""

    def __init__(self, transport):
        self.transport = transport


@pytest.mark.parametrize("wrap", [lambda t: t, _Dci], ids=["x-road", "dci"])
def test_a_connector_arms_the_probe_on_its_sources_breaker(wrap):
    policy = SourcePolicy.from_config("tax", {"breaker": {"failure_threshold": 1, "reset_after": 3600}})
    policy.breaker.record_failure()
    connector = TaxConnector(wrap(_Transport(policy)))
    assert connector.allow_probe() is True
    assert policy.breaker.state == "half_open"
