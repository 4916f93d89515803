"""Building the thirteen connectors from configuration; one set per app, so breakers and caches persist.

Configuration (`app.config["SOURCES"]`, from the env var SRSP_SOURCES as JSON) is a dict of per-source sections
plus "*" for all of them; each section may set `base_url` and the resilience keys of
connectors.transport.resilience (timeout, retry, breaker, concurrency, cache). The default base URL is the
simulator's (SRSP_SOURCES_URL, default http://127.0.0.1:5001), so a fresh `make run` works with no set-up.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from flask import current_app

from connectors.catalog import CLIENT_ID, SOURCES
from connectors.sources import CONNECTORS
from connectors.transport.dci import DCIClient, Keyring
from connectors.transport.resilience import SourcePolicy
from connectors.transport.xroad import XRoadClient

DCI_SENDER_ID = "srsp"
_RESILIENCE_KEYS = {"timeout", "connect_timeout", "retry", "breaker", "concurrency", "cache"}
_lock = threading.Lock()


def connectors_for(app=None) -> dict:
    """The app's connectors, built once (thread-safe)."""
    app = app or current_app._get_current_object()
    with _lock:
        if "srsp_connectors" not in app.extensions:
            app.extensions["srsp_connectors"] = build(app.config.get("SOURCES") or {},
                                                      app.config["SOURCES_URL"], _keyring(app))
        return app.extensions["srsp_connectors"]


def build(config: dict, default_url: str, keyring: Keyring, http: httpx.Client | None = None) -> dict:
    shared = config.get("*", {})
    http = http or httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=64))
    built = {}
    for source in SOURCES:
        section = {**shared, **config.get(source.name, {})}
        policy = SourcePolicy.from_config(source.name, {k: v for k, v in section.items() if k in _RESILIENCE_KEYS})
        transport = XRoadClient(section.get("base_url", default_url), CLIENT_ID, source.service_id, policy, http)
        connector = CONNECTORS[source.name](transport)
        if source.protocol == "dci":
            receiver = section.get("dci_receiver_id", "civil-registry")
            connector = CONNECTORS[source.name](DCIClient(transport, keyring, receiver))
            connector.trust_from(section.get("jwks_url", transport.base_url + "/.well-known/jwks.json"), receiver,
                                 keyring, http)
        built[source.name] = connector
    return built


def _keyring(app) -> Keyring:
    """Our DCI signing key, generated into instance/ on first use like the secret key."""
    key_file = Path(app.config["INSTANCE_DIR"]) / "dci_signing_key"
    if key_file.exists():
        return Keyring.from_config(DCI_SENDER_ID, key_file.read_text().strip())
    keyring = Keyring.generate(DCI_SENDER_ID)
    key_file.write_text(keyring.private_key_b64())
    key_file.chmod(0o600)
    return keyring
