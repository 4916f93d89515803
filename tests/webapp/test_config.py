import pytest

from webapp import ConfigError, create_app
from webapp.config import load_config


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SRSP_COUNTRY", "SRSP_PUBLIC_HOLIDAYS",
                 "SRSP_LOGIN_MAX_FAILURES", "SRSP_LOGIN_LOCKOUT_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_are_embedded_sqlite_inline_jobs_and_generated_secret(clean_env):
    config = load_config({"INSTANCE_DIR": clean_env})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{clean_env / 'srsp.db'}"
    assert config["REDIS_URL"] is None and config["JOBS_INLINE"] is True
    key_file = clean_env / "secret_key"
    assert key_file.read_text() == config["SECRET_KEY"] and len(config["SECRET_KEY"]) >= 32
    assert load_config({"INSTANCE_DIR": clean_env})["SECRET_KEY"] == config["SECRET_KEY"], "kept across restarts"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_environment_is_read(clean_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/srsp")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/2")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("SRSP_PUBLIC_HOLIDAYS", "2026-12-08, 2027-01-01")
    config = load_config({"INSTANCE_DIR": clean_env})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/srsp"
    assert config["JOBS_INLINE"] is False
    assert [d.isoformat() for d in config["PUBLIC_HOLIDAYS"]] == ["2026-12-08", "2027-01-01"]
    assert not (clean_env / "secret_key").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/srsp"),
        ("REDIS_URL", "http://localhost:6379"),
        ("SECRET_KEY", "short"),
        ("SRSP_COUNTRY", "fr"),
        ("SRSP_PUBLIC_HOLIDAYS", "2026-13-01"),
        ("SRSP_LOGIN_MAX_FAILURES", "zero"),
        ("SRSP_LOGIN_LOCKOUT_MINUTES", "-5"),
    ],
)
def test_invalid_configuration_stops_start_up_naming_the_variable(clean_env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        create_app({"INSTANCE_DIR": clean_env})
    assert str(error.value).startswith(variable)


def test_srsp_command_reports_configuration_errors_without_traceback(clean_env, monkeypatch):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "oracle://x", "SRSP_INSTANCE_DIR": str(clean_env)}
    result = subprocess.run([sys.executable, "-c", "from webapp.main import main; main()", "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Configuration error: DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_app_factory_registers_the_parts(app):
    assert {"auth.login", "registration.application_new", "registration_api.create", "core.job_list"} <= set(
        app.view_functions
    )
    assert {"areas", "audit", "worker", "users", "db"} <= set(app.cli.commands)
    # The demo's commands need the simulator, which the app never imports: `srsp` adds them from entry points.
    from importlib.metadata import entry_points

    assert {"demo", "synth", "simulator"} <= {point.name for point in entry_points(group="flask.commands")}
