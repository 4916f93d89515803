"""Configuration from the environment, with safe defaults for the embedded (SQLite, inline jobs) set-up."""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import date
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INSTANCE_DIR = Path(os.environ.get("SRSP_INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance"))

LANGUAGES = {"uz": "O‘zbekcha", "ru": "Русский", "en": "English"}


class ConfigError(RuntimeError):
    """A configuration value is missing or invalid; the message names the variable."""


def _instance_secret(env_var: str, instance_dir: Path, file_name: str) -> str:
    """A secret from the environment or, on the embedded set-up, from a file in instance/ made on first run."""
    if value := os.environ.get(env_var):
        return value
    key_file = instance_dir / file_name
    if not key_file.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _parse_holidays(raw: str) -> list[date]:
    try:
        return [date.fromisoformat(part.strip()) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"SRSP_PUBLIC_HOLIDAYS: expected comma-separated YYYY-MM-DD dates ({exc})") from exc


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be greater than zero, got {value}")
    return value


def _json_object(name: str, raw: str) -> dict:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a JSON object of per-source sections")
    return value


def _sms_config(env) -> dict:
    """SMS notices: the gateway (outbox: kept in the notification table only; twilio) and its credentials."""
    return {
        "SMS_BACKEND": env.get("SMS_BACKEND", "outbox").strip().lower(),
        "SMS_MAX_ATTEMPTS": _positive_int("SMS_MAX_ATTEMPTS", env.get("SMS_MAX_ATTEMPTS", "5")),
        "SMS_RETRY_BASE_SECONDS": 30,  # first retry after ~30 s, then doubling (capped at an hour)
        "SMS_STATUS_CALLBACK_URL": env.get("SMS_STATUS_CALLBACK_URL") or None,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN") or None,
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER") or None,
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE") or None,
    }


def _portal_oidc_config(env) -> dict:
    """The citizens' sign-in through a national single sign-on (OpenID Connect); off unless an issuer is set."""
    return {
        "PORTAL_OIDC_ISSUER": env.get("SRSP_PORTAL_OIDC_ISSUER") or None,
        "PORTAL_OIDC_CLIENT_ID": env.get("SRSP_PORTAL_OIDC_CLIENT_ID") or None,
        "PORTAL_OIDC_CLIENT_SECRET": env.get("SRSP_PORTAL_OIDC_CLIENT_SECRET") or None,
        "PORTAL_OIDC_PIN_CLAIM": env.get("SRSP_PORTAL_OIDC_PIN_CLAIM") or "pin",
        "PORTAL_OIDC_LABEL": env.get("SRSP_PORTAL_OIDC_LABEL") or "OneID",
    }


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask configuration: environment first, then explicit overrides (tests)."""
    overrides = dict(overrides or {})
    instance_dir = Path(overrides.pop("INSTANCE_DIR", INSTANCE_DIR))
    env = os.environ
    config = {
        "INSTANCE_DIR": str(instance_dir),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'srsp.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SECRET_KEY": None,
        "COUNTRY": env.get("SRSP_COUNTRY", "uz"),
        "TIMEZONE": env.get("SRSP_TIMEZONE", "Asia/Tashkent"),
        "PUBLIC_HOLIDAYS": _parse_holidays(env.get("SRSP_PUBLIC_HOLIDAYS", "")),
        "LOGIN_MAX_FAILURES": _positive_int("SRSP_LOGIN_MAX_FAILURES", env.get("SRSP_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_MINUTES": _positive_int(
            "SRSP_LOGIN_LOCKOUT_MINUTES", env.get("SRSP_LOGIN_LOCKOUT_MINUTES", "15")
        ),
        "PAGE_SIZE": 25,
        # Uploads (bank statements) above this are refused with 413 before they are read; statements stop at 20 MB.
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "uz",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "LANGUAGES": LANGUAGES,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS the session cookie must never travel in clear.
        "SESSION_COOKIE_SECURE": _flag(env.get("SRSP_SECURE_COOKIES", "")),
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        # The public address certificates name for the issuer's keys and status lists (None: the request's host).
        "CERTIFICATE_BASE_URL": env.get("SRSP_PUBLIC_URL") or None,
        # SQL errors name the statement, never the bound values (PINs, names, incomes) in logs and tracebacks.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        "API_TOKEN_DAYS": _positive_int("SRSP_API_TOKEN_DAYS", env.get("SRSP_API_TOKEN_DAYS", "90")),
        # Keys the database never holds: one encrypts authenticator secrets, one keys the audit chain.
        "SECRETS_KEY": None,
        "AUDIT_KEY": None,
        "AUDIT_CHECKPOINTS": env.get("SRSP_AUDIT_CHECKPOINTS") or str(instance_dir / "audit-checkpoints"),
        "WTF_CSRF_TIME_LIMIT": None,
        "JOBS_INLINE": None,
        "SOURCES": _json_object("SRSP_SOURCES", env.get("SRSP_SOURCES", "")),
        "SOURCES_URL": env.get("SRSP_SOURCES_URL") or f"http://127.0.0.1:{env.get('SRSP_SIMULATOR_PORT') or 5001}",
        "PARTNERS": _json_object("SRSP_PARTNERS", env.get("SRSP_PARTNERS", "")),
        "COLLECT_ON_SUBMIT": True,
        "COLLECTION_ROUNDS": _positive_int("SRSP_COLLECTION_ROUNDS", env.get("SRSP_COLLECTION_ROUNDS", "2")),
        # A collection unchanged this long with no live job lost it (a killed worker) and is started again;
        # after this many failed runs a person verifies it instead.
        "STRANDED_AFTER_SECONDS": _positive_int("SRSP_STRANDED_AFTER_SECONDS",
                                                env.get("SRSP_STRANDED_AFTER_SECONDS", "120")),
        "COLLECTION_MAX_FAILURES": 3,
        "JOBS_DISPATCH_GRACE": _positive_int("SRSP_JOBS_DISPATCH_GRACE", env.get("SRSP_JOBS_DISPATCH_GRACE", "30")),
        # Periodic jobs: {"name": seconds between runs, or "off"} overrides the schedule (webapp/schedule.py).
        "SCHEDULE": _json_object("SRSP_SCHEDULE", env.get("SRSP_SCHEDULE", "")),
        **_sms_config(env),
        # The account payrolls are paid from (the debtor of the bank files); demo values unless set.
        "PAYER_NAME": env.get("SRSP_PAYER_NAME", "Ijtimoiy himoya milliy agentligi (demo)"),
        "PAYER_ACCOUNT": env.get("SRSP_PAYER_ACCOUNT", "23402000900100001001"),
        "PAYER_BANK_CODE": env.get("SRSP_PAYER_BANK_CODE", "00014"),
        # The agent bank's branch where payees' accounts are opened (MFO).
        "PAYEE_BANK_CODE": env.get("SRSP_PAYEE_BANK_CODE", "00014"),
        # Request bank accounts for new beneficiaries as soon as they are enrolled (tests switch it off).
        "BANK_ACCOUNTS_ON_ENROLMENT": True,
        **_portal_oidc_config(env),
    }
    config.update(overrides)
    for key, env_var, file_name in (("SECRET_KEY", "SECRET_KEY", "secret_key"),
                                    ("SECRETS_KEY", "SRSP_SECRETS_KEY", "secrets_key"),
                                    ("AUDIT_KEY", "SRSP_AUDIT_KEY", "audit_key")):
        if not config[key]:
            config[key] = _instance_secret(env_var, instance_dir, file_name)
    validate(config)
    config["SQLALCHEMY_DATABASE_URI"] = with_driver(config["SQLALCHEMY_DATABASE_URI"])
    if config["JOBS_INLINE"] is None:
        config["JOBS_INLINE"] = not config["REDIS_URL"]
    return config


def with_driver(db_url: str) -> str:
    """PostgreSQL URLs without a driver go through psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if db_url.startswith(prefix):
            return "postgresql+psycopg://" + db_url[len(prefix):]
    return db_url


def validate(config: dict) -> None:
    """Stop start-up on a configuration that cannot work, naming the variable."""
    db_url = config["SQLALCHEMY_DATABASE_URI"]
    scheme = urlparse(db_url).scheme.split("+")[0]
    if scheme not in {"sqlite", "postgresql", "postgres"}:
        raise ConfigError(f"DATABASE_URL: unsupported database {scheme or db_url!r}; use sqlite:/// or postgresql://")
    redis_url = config["REDIS_URL"]
    if redis_url and urlparse(redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"REDIS_URL: expected redis://host:port/db, got {redis_url!r}")
    if len(config["SECRET_KEY"]) < 16:
        raise ConfigError("SECRET_KEY: must be at least 16 characters")
    try:
        ZoneInfo(config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SRSP_TIMEZONE: unknown time zone {config['TIMEZONE']!r}, e.g. Asia/Tashkent") from None
    if config["COUNTRY"] not in {"uz", "kg"}:
        raise ConfigError(f"SRSP_COUNTRY: unknown country profile {config['COUNTRY']!r}; use uz or kg")
    for name, variable in (("PAYER_BANK_CODE", "SRSP_PAYER_BANK_CODE"), ("PAYEE_BANK_CODE", "SRSP_PAYEE_BANK_CODE")):
        if not re.fullmatch(r"\d{5}", config.get(name) or ""):
            raise ConfigError(f"{variable}: expected the bank branch's 5-digit MFO code, got {config.get(name)!r}")
    _validate_sms(config)
    _validate_portal_oidc(config)


_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# A sender is a phone number (E.164) or an alphanumeric sender ID (up to 11 characters, at least one letter).
_SENDER = re.compile(r"^(\+[1-9][0-9]{6,14}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$")


def _validate_sms(config: dict) -> None:
    for name in ("SMS_STATUS_CALLBACK_URL", "TWILIO_API_BASE"):
        value = config.get(name)
        if value and (urlparse(value).scheme not in {"http", "https"} or not urlparse(value).netloc):
            raise ConfigError(f"{name}: expected an http(s):// URL, got {value!r}")
    if config["SMS_BACKEND"] not in {"outbox", "twilio"}:
        raise ConfigError(f"SMS_BACKEND: unknown SMS gateway {config['SMS_BACKEND']!r}; use outbox or twilio")
    if config["SMS_BACKEND"] == "twilio":
        _validate_twilio(config)


def _validate_twilio(config: dict) -> None:
    """The Twilio backend needs an account, its token and a sender (a number or a messaging service)."""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        if not config.get(name):
            raise ConfigError(f"{name}: required when SMS_BACKEND=twilio")
    if not _ACCOUNT_SID.match(config["TWILIO_ACCOUNT_SID"]):
        raise ConfigError("TWILIO_ACCOUNT_SID: expected AC followed by 32 hexadecimal digits")
    sender, service = config.get("TWILIO_FROM_NUMBER"), config.get("TWILIO_MESSAGING_SERVICE_SID")
    if not sender and not service:
        raise ConfigError("TWILIO_FROM_NUMBER: required when SMS_BACKEND=twilio (or set TWILIO_MESSAGING_SERVICE_SID)")
    if sender and not _SENDER.match(sender):
        raise ConfigError(f"TWILIO_FROM_NUMBER: expected an E.164 number such as +14155552345 or an alphanumeric "
                          f"sender ID, got {sender!r}")
    if service and not _SERVICE_SID.match(service):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID: expected MG followed by 32 hexadecimal digits")


def _validate_portal_oidc(config: dict) -> None:
    issuer = config.get("PORTAL_OIDC_ISSUER")
    if not issuer:
        return
    parts = urlparse(issuer)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"SRSP_PORTAL_OIDC_ISSUER: expected the issuer's https:// URL, got {issuer!r}")
    if not config.get("PORTAL_OIDC_CLIENT_ID"):
        raise ConfigError("SRSP_PORTAL_OIDC_CLIENT_ID: required when SRSP_PORTAL_OIDC_ISSUER is set")
