"""Test set-up: one migrated database per run (PostgreSQL from TEST_DATABASE_URL, else an SQLite file), and a
transaction per test that is rolled back, so tests never see each other's data.

Tests marked `committed` run without that transaction (a real rq worker or a subprocess must see their data);
they clean up after themselves through the `committed_db` fixture.
"""

from __future__ import annotations

import os
import re
from datetime import date

import flask_babel
import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import orm, text

from tests import factories
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.programmes import load_programmes

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


# The live SRSP server subscribed to the simulated civil registry, for the tests of civil events and their alerts.
pytest_plugins = ["tests.civil_registry"]


def pytest_configure(config):
    _cheap_password_hashing()
    config.addinivalue_line("markers", "committed: runs on committed data, without the per-test rollback")


def _cheap_password_hashing() -> None:
    """argon2id at its smallest cost: the suite creates and signs in hundreds of users, and what it tests (the
    algorithm, the checks around it) does not depend on the cost. Processes the tests start keep the real cost."""
    from argon2 import PasswordHasher

    from webapp.auth import passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("not-a-real-password")


def base_config(instance_dir, database_url) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_DIR": str(instance_dir),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        # One key for every app a test builds (the browser tests' live servers too): rows one app writes, another
        # reads and verifies.
        "SECRETS_KEY": "test-secrets-key-0123456789abcdef",
        "AUDIT_KEY": "test-audit-key-0123456789abcdef",
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "JOBS_INLINE": True,
        "PUBLIC_HOLIDAYS": [],
        "COLLECT_ON_SUBMIT": False,  # registration tests stop at `submitted`; collection tests switch it on
        "BANK_ACCOUNTS_ON_ENROLMENT": False,  # payments tests point the bank connector at the simulator themselves
    }


def demo_instance(folder, households: int, **config):
    """The demo's own app and simulator database, as `srsp demo run` makes them: migrated, areas and programmes
    loaded, the demo users, and `households` synthetic Tashkent households copied into the register copy, all
    committed. Returns (app, simulator database URL, simulator engine)."""
    from sqlalchemy import select

    from connectors.simulator import store
    from connectors.synthetic import synthesize
    from demo.population import copy_simulated_population
    from demo.setup import create_demo_users
    from webapp.models import Area, AreaLevel

    app = create_app({**base_config(folder, f"sqlite:///{folder / 'demo.db'}"), "COLLECT_ON_SUBMIT": True, **config})
    sim_url = f"sqlite:///{folder / 'simulator.db'}"
    sim_engine = store.engine_for(sim_url)
    store.create_schema(sim_engine)
    with app.app_context():
        upgrade()
        load_areas(mahallas_per_district=1)
        load_programmes()
        db.session.commit()
        create_demo_users()
        mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla,
                                                              Area.code.startswith("UZ-TK"))).all()
        synthesize(sim_engine, households=households, seed=5, areas=mahallas, as_of=date.today())
        copy_simulated_population(sim_engine)
        db.session.commit()
        db.session.remove()
    return app, sim_url, sim_engine


def _reset_database(app) -> None:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        load_areas(mahallas_per_district=2)
        load_programmes()
        db.session.commit()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory, database_url):
    app = create_app(base_config(tmp_path_factory.mktemp("instance"), database_url))
    _reset_database(app)

    @app.before_request
    def _fresh_request_state():
        # Test requests run inside the test's app context, so `g` (signed-in user, CSRF token) and the cached
        # locale would leak from one request, or one client, to the next; in production each request is fresh.
        for key in list(g):
            g.pop(key)
        flask_babel.refresh()

    return app


class _BoundSession(orm.Session):
    """A plain Session bound to the test's connection (Flask-SQLAlchemy's own would pick the engine)."""

    def __init__(self, db=None, **kwargs):  # noqa: ARG002 - Flask-SQLAlchemy passes its db object
        super().__init__(**kwargs)


@pytest.fixture(autouse=True)
def _transaction(request, app):
    """Every test in one outer transaction; the app's commits become savepoints; all rolled back at the end."""
    if request.node.get_closest_marker("committed"):
        with app.app_context():
            yield
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"class_": _BoundSession, "bind": connection, "join_transaction_mode": "create_savepoint"}
        )
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _own_audit_checkpoints(app, tmp_path):
    """Each test signs audit checkpoints in its own directory: a checkpoint of rows a test then rolls back would
    make every later verification in the session report those rows as deleted."""
    shared = app.config["AUDIT_CHECKPOINTS"]
    app.config["AUDIT_CHECKPOINTS"] = str(tmp_path / "audit-checkpoints")
    yield
    app.config["AUDIT_CHECKPOINTS"] = shared


@pytest.fixture
def client(app):
    """A browser that prefers English, so assertions read the English messages (other languages: test_i18n)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, user, password: str = factories.PASSWORD):
    token = csrf_token(client)
    response = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    client.csrf = token
    return client


@pytest.fixture
def registrar(app):
    return factories.make_user("registrar", areas=["UZ-TK"])


@pytest.fixture
def registrar_client(client, registrar):
    return sign_in(client, registrar)
