"""Bank statement and status-report readers (camt.053/054, pain.002, CSV): bytes in, a `Statement` out."""

from __future__ import annotations

from ._xml import message_type, parse
from .camt import read_camt
from .csvfile import read_csv
from .model import SetAsideLine, Statement, StatementEntry, StatementError
from .pain002 import read_pain002

__all__ = [
    "SetAsideLine",
    "Statement",
    "StatementEntry",
    "StatementError",
    "read_camt",
    "read_csv",
    "read_pain002",
    "read_statement",
]


def read_statement(data: bytes, filename: str | None = None) -> Statement:
    """Read any supported file, choosing the reader from the content (root namespace), CSV when it is not XML."""
    # The filename is only used in messages: banks name files inconsistently, the content is what counts.
    try:
        return _dispatch(data)
    except StatementError as exc:
        if filename:
            raise StatementError(f"{filename}: {exc}") from exc
        raise


def _dispatch(data: bytes) -> Statement:
    """Pick the reader for `data`."""
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return read_csv(data)
    msg, version, _ = message_type(parse(data))
    if msg in ("camt.053", "camt.054"):
        return read_camt(data)
    if msg == "pain.002":
        return read_pain002(data)
    raise StatementError(f"{msg}.{version} is not a statement or status report this system reads")
