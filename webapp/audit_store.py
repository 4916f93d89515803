"""The files that hold the audit chain's signed checkpoints, outside the database (see webapp.audit_checkpoints).

One JSON line per checkpoint in `checkpoints-YYYY-MM.jsonl` under AUDIT_CHECKPOINTS, appended and never rewritten,
each signed with an HMAC-SHA256 under AUDIT_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app

from webapp.timeutil import local_time

_DOMAIN = b"srsp audit checkpoint v1\n"
_FIELDS = ("at", "last_id", "rows", "head")


def _key() -> bytes:
    return current_app.config["AUDIT_KEY"].encode()


@dataclass(frozen=True)
class Checkpoint:
    at: str  # ISO 8601, UTC
    last_id: int
    rows: int
    head: str
    signature: str = ""

    @property
    def at_text(self) -> str:
        """The checkpoint's time in the country's time zone, as messages show it."""
        return f"{local_time(datetime.fromisoformat(self.at)):%Y-%m-%d %H:%M:%S}"

    def fields(self) -> dict:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass
class Found:
    latest: Checkpoint | None = None
    count: int = 0
    forged: list[tuple[str, int]] = field(default_factory=list)  # (file, line) of lines whose signature fails


def directory() -> Path:
    return Path(current_app.config["AUDIT_CHECKPOINTS"])


def sign(fields: dict, key: bytes | None = None) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key or _key(), _DOMAIN + payload, hashlib.sha256).hexdigest()


def _parse(line: str, key: bytes) -> Checkpoint | None:
    """The checkpoint on a line, or None when it is malformed or its signature does not match."""
    try:
        data = json.loads(line)
        point = Checkpoint(at=str(data["at"]), last_id=int(data["last_id"]), rows=int(data["rows"]),
                           head=str(data["head"]), signature=str(data["signature"]))
        datetime.fromisoformat(point.at)
    except (ValueError, KeyError, TypeError):
        return None
    return point if hmac.compare_digest(sign(point.fields(), key), point.signature) else None


def read_all() -> Found:
    """Every checkpoint file in the directory, oldest first; the latest valid checkpoint and any forged lines."""
    found, key = Found(), _key()
    folder = directory()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("checkpoints-*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            point = _parse(line, key)
            if point is None:
                found.forged.append((path.name, number))
                continue
            found.count += 1
            if found.latest is None or point.at >= found.latest.at:
                found.latest = point
    return found


def append(point: Checkpoint) -> None:
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"checkpoints-{point.at[:7]}.jsonl"
    line = json.dumps(asdict(point), sort_keys=True, separators=(",", ":")) + "\n"
    # O_APPEND: lines from two writers at once never interleave; fsync: a signed checkpoint survives a crash.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
