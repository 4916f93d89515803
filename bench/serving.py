"""The benchmarks' servers and clients on this machine: gunicorn and other processes started in their own process
groups (so stopping one stops its children), loopback clients, and the latency summary they all print."""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """A process in its own session (process group), with the environment on top of this one's, importing the
    code of this checkout (ahead of the installed one); its output appended to `log` when given."""
    env = {"PYTHONPATH": str(ROOT), **env}
    if log is None:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    with open(log, "ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                                stdout=output, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """Stop the process's group: SIGTERM, then SIGKILL after `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def wait_for(url: str, process: subprocess.Popen, what: str, seconds: float = 30) -> None:
    """Until GET `url` answers 200; stops `process` and exits when it does not within `seconds` or dies."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(process)
    raise SystemExit(f"{what} did not start")


def gunicorn(env: dict[str, str], workers: int, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn with `workers` workers on a free loopback port, answering /healthz. (process, base)"""
    port = free_port()
    server = start([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                    "webapp:create_app()"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", server, "gunicorn")
    except BaseException:  # Ctrl-C while it starts: the caller has no process to stop yet
        stop(server)
        raise
    return server, base


def client(base: str, number: int, **options) -> httpx.Client:
    """A client talking from its own loopback address (127.0.x.y), as a person on their own device: per-address
    limits apply to each alone."""
    transport = httpx.HTTPTransport(local_address=f"127.0.{number // 250}.{number % 250 + 2}")
    return httpx.Client(base_url=base, transport=transport, timeout=60, follow_redirects=True, **options)


def stats(values: list[float]) -> dict:
    """n, p50, p95, p99 and max of latencies in milliseconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1), "p95_ms": pick(0.95),
            "p99_ms": pick(0.99), "max_ms": round(ordered[-1], 1)}
