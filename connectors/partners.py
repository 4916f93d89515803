"""The bank and the treasury connectors, built once per app from configuration (like `connectors.registry`).

`SRSP_PARTNERS` (JSON) may hold a `bank` and a `treasury` section, each with `base_url`, `service_id` and the
resilience keys of `connectors.transport.resilience` (timeout, retry, breaker, concurrency, cache). By default both
are reached at the simulator's address (`SRSP_SOURCES_URL`), which plays the bank and the treasury in `make run`.
"""

from __future__ import annotations

import threading

from flask import current_app

from connectors import bank, treasury
from connectors.catalog import CLIENT_ID
from connectors.transport.resilience import SourcePolicy
from connectors.transport.xroad import XRoadClient

_RESILIENCE_KEYS = {"timeout", "connect_timeout", "retry", "breaker", "concurrency", "cache"}
# A payment file can be large: the bank gets more time than a registry lookup.
_DEFAULTS = {"bank": {"timeout": 60, "cache": {"ttl": 0}}, "treasury": {"timeout": 20, "cache": {"ttl": 0}}}
_lock = threading.Lock()


def _build(app) -> dict:
    config = app.config.get("PARTNERS") or {}
    built = {}
    for name, module, connector in (("bank", bank, bank.BankConnector),
                                    ("treasury", treasury, treasury.TreasuryConnector)):
        section = config.get(name, {})
        resilience = {k: v for k, v in section.items() if k in _RESILIENCE_KEYS}
        policy = SourcePolicy.from_config(name, resilience, _DEFAULTS[name])
        transport = XRoadClient(section.get("base_url", app.config["SOURCES_URL"]), CLIENT_ID,
                                section.get("service_id", module.SERVICE_ID), policy)
        built[name] = connector(transport)
    return built


def _partners(app=None) -> dict:
    app = app or current_app._get_current_object()
    with _lock:
        if "srsp_partners" not in app.extensions:
            app.extensions["srsp_partners"] = _build(app)
        return app.extensions["srsp_partners"]


def bank_connector(app=None) -> bank.BankConnector:
    return _partners(app)["bank"]


def treasury_connector(app=None) -> treasury.TreasuryConnector:
    return _partners(app)["treasury"]
