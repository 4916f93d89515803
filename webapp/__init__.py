"""SRSP web application: the app factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user
from sqlalchemy import event

from webapp.config import ConfigError, load_config
from webapp.extensions import babel, csrf, db, login_manager, migrate

__all__ = ["create_app", "ConfigError"]

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


class SrspFlask(Flask):
    """Flask with the transaction boundary around every view (webapp/boundary.py)."""

    def dispatch_request(self):
        from webapp.boundary import dispatch

        return dispatch(super().dispatch_request)


def create_app(config_overrides: dict | None = None) -> Flask:
    """Build the application; raises ConfigError naming the variable when the configuration cannot work."""
    app = SrspFlask(__name__)
    app.config.update(load_config(config_overrides))
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    app.instance_path = app.config["INSTANCE_DIR"]

    _import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    _init_login(app)
    from webapp import log_privacy, security_headers
    from webapp.auth import limits

    limits.init_app(app)
    security_headers.install(app)
    log_privacy.install(app)
    with app.app_context():
        _tune_sqlite(db.engine)

    from webapp import guard

    guard.install(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    from webapp.errors import register_error_handlers

    register_error_handlers(app)
    from webapp.cli import register_commands

    register_commands(app)
    from modules.enrolment.certificates.cli import register_commands as register_certificate_commands

    register_certificate_commands(app)
    from modules.reporting.cli import register_commands as register_report_commands

    register_report_commands(app)
    from modules.dci.cli import register_commands as register_dci_commands

    register_dci_commands(app)
    return app


def _import_models() -> None:
    # Every model must be imported before migrations compare metadata or relationships resolve.
    import modules.dci.models  # noqa: F401
    import modules.enrolment.certificates  # noqa: F401  (the handlers that keep certificates true)
    import modules.enrolment.certificates.models  # noqa: F401
    import modules.enrolment.models  # noqa: F401
    import modules.grievances.models  # noqa: F401
    import modules.means_test.models  # noqa: F401
    import modules.payments.models  # noqa: F401
    import modules.portal.models  # noqa: F401
    import modules.registration.models  # noqa: F401
    import modules.reporting.adhoc.models  # noqa: F401
    import modules.reporting.models  # noqa: F401
    import webapp.jobs  # noqa: F401  (installs the after-commit job dispatch)
    import webapp.models  # noqa: F401


def _tune_sqlite(engine) -> None:
    """SQLite: enforce foreign keys, wait on locks, and let SQLAlchemy (not pysqlite) run transactions,
    so SAVEPOINTs and transactional DDL behave as on PostgreSQL. Transactions begin IMMEDIATE: a request that
    read first and writes later would otherwise fail at once ("database is locked") when another request wrote
    in between; taking the write lock up front makes concurrent requests wait their turn instead."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        # SQLite's own lower() folds ASCII only; names here are Latin with ʻ, and Cyrillic.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def _select_locale() -> str:
    if not has_request_context():  # jobs and CLI commands: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = app_languages()
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(list(languages)) or "uz"


def app_languages() -> dict:
    from flask import current_app

    return current_app.config["LANGUAGES"]


def _init_login(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from webapp.auth.operations import session_identity, user_for_token

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        # "<id>:<session version>": a cookie from before a sign-out, a new password or a change of role no longer
        # matches.
        return session_identity(user_id)

    @login_manager.request_loader
    def load_user_from_token(req):
        # API tokens open the API only, never the staff pages.
        header = req.headers.get("Authorization", "")
        if req.path.startswith("/api/") and header.startswith("Bearer "):
            return user_for_token(header[len("Bearer "):].strip())
        return None


def _register_blueprints(app: Flask) -> None:
    from modules.dci.blueprint import bp as dci
    from modules.enrolment.blueprint import bp as enrolment
    from modules.enrolment.certificates.views import bp as certificates
    from modules.grievances.blueprint import api_bp as grievances_api
    from modules.grievances.blueprint import bp as grievances
    from modules.means_test.blueprint import api_bp as means_test_api
    from modules.means_test.blueprint import bp as means_test
    from modules.notifications.blueprint import bp as notifications
    from modules.notifications.blueprint import callback_bp as sms_callbacks
    from modules.payments.blueprint import bp as payments
    from modules.portal.blueprint import bp as portal
    from modules.registration.blueprint import api_bp as registration_api
    from modules.registration.blueprint import bp as registration
    from modules.registration.civil_events import bp as civil_events
    from modules.reporting.blueprint import bp as reporting
    from webapp.admin.blueprint import bp as admin
    from webapp.auth.blueprint import bp as auth
    from webapp.core import bp as core
    from webapp.openapi import bp as openapi

    app.register_blueprint(auth)
    app.register_blueprint(core)
    app.register_blueprint(registration)
    app.register_blueprint(registration_api)
    app.register_blueprint(means_test)
    app.register_blueprint(means_test_api)
    app.register_blueprint(enrolment)
    app.register_blueprint(payments)
    app.register_blueprint(admin)
    app.register_blueprint(civil_events)
    app.register_blueprint(notifications)
    app.register_blueprint(sms_callbacks)
    app.register_blueprint(grievances)
    app.register_blueprint(grievances_api)
    app.register_blueprint(portal)
    app.register_blueprint(certificates)
    app.register_blueprint(reporting)
    app.register_blueprint(dci)
    app.register_blueprint(openapi)
    csrf.exempt(registration_api)  # token-authenticated machine clients; no cookies, so no CSRF
    csrf.exempt(means_test_api)  # a calculator for token clients; it changes nothing
    csrf.exempt(civil_events)  # the civil registry calls with a DCI signature, never with cookies
    csrf.exempt(dci)  # registries' senders call with bearer tokens and DCI signatures, never with cookies
    csrf.exempt(sms_callbacks)  # Twilio calls with an X-Twilio-Signature, never with cookies
    csrf.exempt(grievances_api)  # token-authenticated channels (call centre, portal); no cookies, so no CSRF


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from webapp.auth.permissions import has_permission
    from webapp.timeutil import local_time

    @app.template_filter("when")
    def format_when(moment) -> str:
        """Timestamps in the country's time zone, as people there read them."""
        local = local_time(moment)
        return local.strftime("%d.%m.%Y %H:%M") if local else "—"

    from modules.means_test.display import record_text

    app.add_template_global(record_text)
    from modules.means_test import labels as means_test_labels
    from webapp import formatting, labels

    formatting.register(app)
    labels.register(app)
    means_test_labels.register(app)

    @app.context_processor
    def inject_helpers():
        return {"can": lambda permission: has_permission(current_user, permission),
                "languages": app.config["LANGUAGES"], "get_locale": get_locale}
