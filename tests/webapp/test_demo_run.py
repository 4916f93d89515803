"""`srsp demo run` (what `make run` starts): the registry simulator's port is configurable (--simulator-port,
SRSP_SIMULATOR_PORT), the sources' URL follows it, and a taken default port is replaced by a free one."""

from __future__ import annotations

import socket
import threading

import click
import httpx
import pytest

from connectors.simulator.app import create_simulator_app
from demo import cli as demo_cli
from webapp.config import load_config

ENV = ("SRSP_SOURCES_URL", "SRSP_SIMULATOR_PORT")


@pytest.fixture
def taken_port():
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


@pytest.fixture
def simulator(tmp_path):
    return create_simulator_app(database_url=f"sqlite:///{tmp_path / 'simulator.db'}", faults={})


def sources_url(monkeypatch, tmp_path, **env) -> str:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_config({"INSTANCE_DIR": tmp_path})["SOURCES_URL"]


def test_the_sources_url_follows_the_simulator_port(monkeypatch, tmp_path):
    assert sources_url(monkeypatch, tmp_path) == "http://127.0.0.1:5001"
    assert sources_url(monkeypatch, tmp_path, SRSP_SIMULATOR_PORT="5123") == "http://127.0.0.1:5123"
    assert sources_url(monkeypatch, tmp_path, SRSP_SIMULATOR_PORT="5123",
                       SRSP_SOURCES_URL="https://xroad.example.uz") == "https://xroad.example.uz"


def test_a_taken_default_port_is_replaced_by_a_free_one_and_printed(simulator, taken_port, capsys):
    assert not demo_cli.port_is_free("127.0.0.1", taken_port)
    server = demo_cli.simulator_server(simulator, "127.0.0.1", taken_port, fall_back=True)
    try:
        assert server.server_port not in (taken_port, 0)
        assert f"Port {taken_port} is in use: the registry simulator listens on port {server.server_port} instead" \
            in capsys.readouterr().out
    finally:
        server.server_close()


def test_the_replacement_port_serves_the_simulator(simulator, taken_port):
    server = demo_cli.simulator_server(simulator, "127.0.0.1", taken_port, fall_back=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.server_port}/_control/health", timeout=10)
        assert answer.status_code == 503  # the simulator answers: no population in this empty store
        assert answer.json()["status"] == "empty" and len(answer.json()["sources"]) == 13
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_port_asked_for_explicitly_must_be_free(simulator, taken_port):
    with pytest.raises(click.ClickException) as refused:
        demo_cli.simulator_server(simulator, "127.0.0.1", taken_port, fall_back=False)
    assert f"port {taken_port} on 127.0.0.1 is in use" in refused.value.message
    assert "SRSP_SIMULATOR_PORT" in refused.value.message


def test_a_free_port_is_used_as_asked(simulator):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as finder:
        finder.bind(("127.0.0.1", 0))
        port = finder.getsockname()[1]
    server = demo_cli.simulator_server(simulator, "127.0.0.1", port, fall_back=False)
    try:
        assert server.server_port == port
    finally:
        server.server_close()


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], {}, (5001, True)),  # make run: the default, replaced when taken
    ([], {"SRSP_SIMULATOR_PORT": "5123"}, (5123, False)),
    (["--simulator-port", "5124"], {"SRSP_SIMULATOR_PORT": "5123"}, (5124, False)),
])
def test_demo_run_takes_the_port_from_the_option_or_the_environment(app, monkeypatch, args, env, expected):
    started = {}

    def start(host, port, fall_back=True):
        started.update(host=host, port=port, fall_back=fall_back)
        return f"http://{host}:{port}"

    monkeypatch.delenv("SRSP_SIMULATOR_PORT", raising=False)
    monkeypatch.setattr(demo_cli, "_setup_demo", lambda: {"users": [], "persons": 0, "generated": 0,
                                                            "families": [], "simulator_url": ""})
    monkeypatch.setattr(demo_cli, "_start_simulator", start)
    monkeypatch.setattr(demo_cli, "_decide_history_in_background", lambda _app: None)
    monkeypatch.setattr(demo_cli, "start_schedule", lambda _app: None)
    monkeypatch.setattr(demo_cli, "run_simple", lambda *_args, **_kwargs: None)

    result = app.test_cli_runner().invoke(demo_cli.demo, ["run", *args], env=env)

    assert result.exit_code == 0, result.output
    assert (started["port"], started["fall_back"]) == expected
    assert f"Registry simulator (13 sources) at http://127.0.0.1:{expected[0]}" in result.output


def test_demo_run_refuses_a_port_that_is_not_a_port(app):
    result = app.test_cli_runner().invoke(demo_cli.demo, ["run", "--simulator-port", "70000"])
    assert result.exit_code != 0
    assert "--simulator-port" in result.output
