"""Building the thirteen connectors from configuration; one set per app, so breakers and caches persist.

Configuration (`app.config["SOURCES"]`, from the env var SRSP_SOURCES as JSON) is a dict of per-source sections
plus "*" for all of them; each section may set `base_url`, `batch` (default true; false: the registry has no
batch lookup and is asked one person per request, see connectors/wire.py) and the resilience keys of
connectors.transport.resilience (timeout, retry, breaker, concurrency, cache). The default base URL is the
simulator's (SRSP_SOURCES_URL, default http://127.0.0.1:5001), so a fresh `make run` works with no set-up.

Each source has its own HTTP client: a pool of kept-alive connections as large as the source's concurrency limit,
so a registry's next request reuses a connection (no new TCP or TLS set-up) and a slow registry cannot hold the
connections another one needs. `fetch_all` asks several sources at once on threads that live as long as the
process, so a collection does not start a thread per source.

The civil registry (DCI) reads more keys of its section; the defaults are DCI over X-Road as before:

- `xroad` (default true): the DCI paths go below the X-Road service path with X-Road headers; false: `base_url` is
  a plain DCI server's, e.g. `https://crvs.example/dci/crvs` (its paths `/registry/sync/search`, ...).
- `jwks_url` (default `{base_url}/.well-known/jwks.json`; `null`: none, e.g. when the registry does not sign)
  and `dci_receiver_id` (default `civil-registry`): whose keys sign the registry's messages.
- `token` (a bearer token) or `oauth2` (`{"token_url", "client_id", "client_secret", "scope"?}`: client
  credentials as in the DCI authz spec); neither: no `Authorization` header.
- `accept_unsigned` (default false): replies without a signature are accepted (signed ones must still verify).
- `search` (`sync`, the default, or `async`) with `callback_url`: our on-search receiver as the registry reaches
  it (`https://srsp.example/api/v1/dci/on-search`), and `async_timeout` (seconds, default 30). The on-search
  reaches the waiting search through Redis when the app has `REDIS_URL` (any worker may receive it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from flask import current_app

from connectors.catalog import CLIENT_ID, SOURCES
from connectors.sources import CONNECTORS
from connectors.transport.dci import DCIClient, DCITransport, Keyring, RedisPendingSearches, bearer_from_config
from connectors.transport.resilience import SourcePolicy
from connectors.transport.xroad import XRoadClient

DCI_SENDER_ID = "srsp"
_RESILIENCE_KEYS = {"timeout", "connect_timeout", "retry", "breaker", "concurrency", "cache"}
KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection to a registry is kept for its next request
FETCH_THREADS = 64  # sources fetched at once in one process: the 13 of a few collections running side by side
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def connectors_for(app=None) -> dict:
    """The app's connectors, built once (thread-safe)."""
    app = app or current_app._get_current_object()
    with _lock:
        if "srsp_connectors" not in app.extensions:
            app.extensions["srsp_connectors"] = build(app.config.get("SOURCES") or {},
                                                      app.config["SOURCES_URL"], _keyring(app),
                                                      redis_url=app.config.get("REDIS_URL"))
        return app.extensions["srsp_connectors"]


def fetch_all(connectors: dict, names: Iterable[str], pins: list[str], *, window: tuple[str, str],
              user_id: str | None = None) -> dict:
    """{name: {pin: PullOutcome}}: the named sources asked at once, each for all `pins` (one batch per source)."""
    futures = {name: _fetch_pool().submit(connectors[name].fetch, pins, window=window, user_id=user_id)
               for name in names}
    return {name: future.result() for name, future in futures.items()}


def _fetch_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="srsp-source")
        return _pool


def _after_fork() -> None:
    """A forked process (an rq work horse) has none of its parent's threads, and a lock one of them held stays
    held: it starts its own pool under a new lock."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def build(config: dict, default_url: str, keyring: Keyring, http: httpx.Client | None = None, *,
          redis_url: str | None = None) -> dict:
    """The connectors; `http`: one client for every source (tests), else each source gets its own;
    `redis_url`: where an async search's on-search is handed over between processes (none: within this process
    only)."""
    shared = config.get("*", {})
    tls = httpx.create_ssl_context() if http is None else None  # one for all: each costs the CA bundle's loading
    built = {}
    for source in SOURCES:
        section = {**shared, **config.get(source.name, {})}
        policy = SourcePolicy.from_config(source.name, {k: v for k, v in section.items() if k in _RESILIENCE_KEYS})
        client = http or _http_client(policy, tls)
        if source.protocol == "dci":
            built[source.name] = _dci_connector(source, section, policy, keyring, client, default_url, redis_url)
            continue
        transport = XRoadClient(section.get("base_url", default_url), CLIENT_ID, source.service_id, policy, client)
        built[source.name] = CONNECTORS[source.name](transport, batch=bool(section.get("batch", source.batch)))
    return built


def _http_client(policy: SourcePolicy, tls) -> httpx.Client:
    """One source's connections: as many as its calls in flight may be, kept open between its requests."""
    size = policy.concurrency.limit
    return httpx.Client(follow_redirects=False, verify=tls, limits=httpx.Limits(
        max_connections=size, max_keepalive_connections=size, keepalive_expiry=KEEPALIVE_EXPIRY))


def _dci_connector(source, section: dict, policy: SourcePolicy, keyring: Keyring, http: httpx.Client,
                   default_url: str, redis_url: str | None):
    """The civil registry's connector: DCI over X-Road by default, or a plain DCI server (see the module doc)."""
    transport = DCITransport(section.get("base_url", default_url), CLIENT_ID, source.service_id, policy, http,
                             xroad=bool(section.get("xroad", True)),
                             auth=bearer_from_config(section.get("token"), section.get("oauth2")))
    mode = section.get("search", "sync")
    if mode not in ("sync", "async"):
        raise ValueError(f"sources.{source.name}.search must be 'sync' or 'async', not {mode!r}")
    receiver = section.get("dci_receiver_id", "civil-registry")
    client = DCIClient(transport, keyring, receiver, accept_unsigned=bool(section.get("accept_unsigned", False)),
                       async_search=mode == "async", callback_url=section.get("callback_url"),
                       async_timeout=float(section.get("async_timeout", 30)),
                       pending=_pending(redis_url) if mode == "async" else None)
    client.prepare()
    connector = CONNECTORS[source.name](client)
    jwks_url = section.get("jwks_url", transport.base_url + "/.well-known/jwks.json")
    if jwks_url:
        connector.trust_from(jwks_url, receiver, keyring, http)
    return connector


def _pending(redis_url: str | None):
    """Where async searches wait for their on-search: Redis when the app has it (several workers), else here."""
    if not redis_url:
        return None
    from redis import Redis

    return RedisPendingSearches(Redis.from_url(redis_url, socket_connect_timeout=2))


def _keyring(app) -> Keyring:
    """Our DCI signing key, generated into instance/ on first use like the secret key."""
    key_file = Path(app.config["INSTANCE_DIR"]) / "dci_signing_key"
    if key_file.exists():
        return Keyring.from_config(DCI_SENDER_ID, key_file.read_text().strip())
    keyring = Keyring.generate(DCI_SENDER_ID)
    key_file.write_text(keyring.private_key_b64())
    key_file.chmod(0o600)
    return keyring
