"""Rate limits on signing in (Flask-Limiter; counters in Redis when REDIS_URL is set, so every worker shares them).

Per account (the lowercased name, whether or not an account has it): every attempt counts, so guesses spread over
many addresses cannot keep the server hashing passwords. Per client address: only failed attempts count, so an
office behind one address can sign everyone in at nine o'clock. The per-account lock-out (LOGIN_MAX_FAILURES)
stays the main defence; these limits cap the work an attacker can cause. When the counters' store is
unreachable the limits fall back to counters in memory rather than refusing every sign-in.
"""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

ACCOUNT_LIMIT = "10 per minute"
ADDRESS_FAILURE_LIMIT = "30 per minute"

limiter = Limiter(key_func=get_remote_address, default_limits=[], swallow_errors=True,
                  in_memory_fallback_enabled=True, key_prefix="srsp")


def init_app(app) -> None:
    limiter.init_app(app)


def account_key() -> str:
    """The account a sign-in names, as the lock-out counts it (an empty name is counted under the address)."""
    name = (request.form.get("username") or "").strip().lower()[:100]
    return f"account:{name}" if name else f"address:{get_remote_address()}"


def failed(response) -> bool:
    """A sign-in that did not sign anyone in (a success redirects)."""
    return response.status_code >= 400
