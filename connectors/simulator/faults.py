"""Fault injection for the registry simulator: latency, jitter and failures, per source and globally.

Configuration is a dict keyed by source name (`connectors.catalog`), or `"*"` for every source; a source's own
entry overrides the keys it names, the rest come from `"*"`:

    {"*": {"latency_ms": 50}, "tax": {"error_rate": 0.3, "mode": "5xx"}, "cadastre": {"mode": "down"}}

| key          | meaning                                                                            | default |
|--------------|------------------------------------------------------------------------------------|---------|
| `latency_ms` | every call of the source is answered this long after it arrived (see below)         | 0       |
| `jitter_ms`  | plus a uniform random 0..jitter_ms                                                  | 0       |
| `error_rate` | share of calls (0..1) that fail in `mode`                                           | 0       |
| `mode`       | how a failing call fails: `5xx`, `timeout`, `malformed`; `down` fails every call     | `5xx`   |
| `seed`       | seed of the source's random draws                                                  | 0       |
| `timeout_s`  | how long a `timeout` call hangs before giving up (longer than any client timeout)  | 30      |

Latency is the registry's response time: a call that succeeds is answered when its latency is over, the work of
preparing the answer included (longer work answers later); a failing call waits its latency, then fails.

Modes: `5xx` answers 503 with the X-Road error `Server.ServerProxy.ServiceFailed`; `timeout` hangs for
`timeout_s` (interruptible: the wait ends at once when the simulator shuts down) and then answers 504
`Server.ServerProxy.Timeout`; `malformed` answers 200 with a JSON body cut in the middle; `down` answers every call
503 `Server.ServerProxy.ServiceFailed` (error_rate is ignored).

Determinism: each source draws from its own `random.Random` seeded with `"{seed}:{source}"` (string seeds hash the
same in every process), one draw per call when `error_rate` is set, and jitter from a second generator, so the
n-th call to a source fails or not identically in every run with the same configuration. Replacing the
configuration (`Faults.configure`, `PUT /_control/faults`) restarts every sequence.

The environment variable `SIMULATOR_FAULTS` holds the same dict as JSON.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

ENV_VAR = "SIMULATOR_FAULTS"
ALL = "*"
MODES = ("5xx", "timeout", "malformed", "down")
DEFAULT_TIMEOUT_S = 30.0


class FaultConfigError(ValueError):
    """A fault configuration that cannot be applied; the message says which key of which source."""


@dataclass(frozen=True)
class FaultSpec:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    mode: str = "5xx"
    seed: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.jitter_ms or self.error_rate or self.mode == "down")


KEYS = tuple(FaultSpec.__dataclass_fields__)


@dataclass(frozen=True)
class Decision:
    """What to do with one call: wait `delay_s`, then fail in `failure` mode (None: answer normally)."""

    delay_s: float
    failure: str | None
    timeout_s: float = DEFAULT_TIMEOUT_S


def _number(name: str, where: str, value: Any, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultConfigError(f"{where}.{name} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise FaultConfigError(f"{where}.{name} must be {bound}, got {value!r}")
    return float(value)


def _check_entry(where: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise FaultConfigError(f"{where} must be an object of fault settings, got {entry!r}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise FaultConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    checked: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "mode":
            if value not in MODES:
                raise FaultConfigError(f"{where}.mode must be one of {', '.join(MODES)}, got {value!r}")
            checked[key] = value
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FaultConfigError(f"{where}.seed must be an integer, got {value!r}")
            checked[key] = value
        elif key == "error_rate":
            checked[key] = _number(key, where, value, 0.0, 1.0)
        elif key == "timeout_s":
            checked[key] = _number(key, where, value, 0.0, 3600.0)
        else:
            checked[key] = _number(key, where, value, 0.0, 600_000.0)
    return checked


def parse_config(config: Mapping[str, Any] | str | None, sources: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Validate a fault configuration (a dict, or its JSON text); raises `FaultConfigError`."""
    if config is None or config == "":
        return {}
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError as exc:
            raise FaultConfigError(f"fault configuration is not JSON: {exc}") from exc
    if not isinstance(config, Mapping):
        raise FaultConfigError("fault configuration must be an object keyed by source name or '*'")
    known = set(sources)
    parsed = {}
    for name, entry in config.items():
        if name != ALL and name not in known:
            raise FaultConfigError(f"unknown source {name!r}; known: '*', {', '.join(sorted(known))}")
        parsed[name] = _check_entry(name, entry)
    return parsed


class Faults:
    """The live fault configuration of a simulator, safe to read and replace from any thread."""

    def __init__(self, config: Mapping[str, Any] | str | None, sources: Iterable[str]) -> None:
        self.sources = tuple(sources)
        self._lock = threading.Lock()
        self._config: dict[str, dict[str, Any]] = {}
        self._specs: dict[str, FaultSpec] = {}
        self._rngs: dict[str, tuple[random.Random, random.Random]] = {}
        self.configure(config)

    @classmethod
    def from_env(cls, sources: Iterable[str], environ: Mapping[str, str] | None = None) -> Faults:
        environ = os.environ if environ is None else environ
        try:
            return cls(environ.get(ENV_VAR) or None, sources)
        except FaultConfigError as exc:
            raise FaultConfigError(f"{ENV_VAR}: {exc}") from exc

    def configure(self, config: Mapping[str, Any] | str | None) -> dict[str, dict[str, Any]]:
        """Replace the whole configuration (validated first: a bad one changes nothing); restarts the draws."""
        parsed = parse_config(config, self.sources)
        base = parsed.get(ALL, {})
        specs = {name: FaultSpec(**{**base, **parsed.get(name, {})}) for name in self.sources}
        rngs = {name: (random.Random(f"{spec.seed}:{name}"), random.Random(f"{spec.seed}:{name}:jitter"))
                for name, spec in specs.items()}
        with self._lock:
            self._config, self._specs, self._rngs = parsed, specs, rngs
        return parsed

    def config(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._config))

    def spec(self, source: str) -> FaultSpec:
        with self._lock:
            return self._specs.get(source, FaultSpec())

    def effective(self) -> dict[str, dict[str, Any]]:
        """Each source's merged settings, for the sources that have any."""
        with self._lock:
            return {name: asdict(spec) for name, spec in self._specs.items() if spec.active}

    def decide(self, source: str) -> Decision:
        """Draw this call's fate (one draw per call when error_rate is set, so sequences are repeatable)."""
        with self._lock:
            spec = self._specs.get(source, FaultSpec())
            errors, jitter = self._rngs.get(source) or (random.Random(0), random.Random(0))
            delay_ms = spec.latency_ms + (jitter.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0.0)
            failure = None
            if spec.mode == "down":
                failure = "down"
            elif spec.error_rate and errors.random() < spec.error_rate:
                failure = spec.mode
        return Decision(delay_ms / 1000.0, failure, spec.timeout_s)


def interruptible_sleep(seconds: float, stop: threading.Event) -> bool:
    """Sleep up to `seconds`, waking at once when `stop` is set; True if it slept the whole time."""
    if seconds <= 0:
        return not stop.is_set()
    return not stop.wait(seconds)
