"""Shared XML plumbing for the ISO 20022 readers: safe parsing, namespace-bound look-ups, amounts and dates."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from . import limits
from .model import StatementError

ISO_NS = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(?P<msg>[a-z]{4}\.\d{3})\.(?P<version>\d{3}\.\d{2})$")


def parse(data: bytes) -> etree._Element:
    """Parse untrusted XML without entities, DTDs or network access; return the root element."""
    # Bank files come from outside: no entity expansion (billion laughs, XXE) and no fetching of anything.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise StatementError(f"not well-formed XML: {exc}") from exc


def message_type(root: etree._Element) -> tuple[str, str, str]:
    """Return (message, version, namespace) from the root `Document`, e.g. ('camt.053', '001.02', ns)."""
    qname = etree.QName(root)
    match = ISO_NS.match(qname.namespace or "")
    if qname.localname != "Document" or not match:
        raise StatementError(
            f"not an ISO 20022 document: root element is <{qname.localname}> in namespace "
            f"{qname.namespace or '(none)'!r}"
        )
    return match["msg"], match["version"], qname.namespace


class Doc:
    """Look-ups by slash-separated local names inside one document's namespace."""

    def __init__(self, namespace: str):
        self.ns = namespace

    def _path(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{part}" for part in path.split("/"))

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        """All elements at `path` below `el`."""
        return el.findall(self._path(path))

    def one(self, el: etree._Element, path: str) -> etree._Element | None:
        """The first element at `path` below `el`, or None."""
        return el.find(self._path(path))

    def text(self, el: etree._Element, path: str) -> str | None:
        """Stripped text at `path`, None when absent or empty."""
        found = self.one(el, path)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def texts(self, el: etree._Element, path: str) -> list[str]:
        """Stripped non-empty texts of all elements at `path`."""
        return [t.text.strip() for t in self.all(el, path) if t.text and t.text.strip()]


def end_to_end_id(raw: str | None, where: str) -> str | None:
    """End-to-end id with the ISO placeholder `NOTPROVIDED` read as absent (it matches nothing of ours)."""
    return None if raw is None or raw.upper() == "NOTPROVIDED" else limits.reference(raw, where)


def amount(el: etree._Element, where: str) -> tuple[Decimal, str | None]:
    """Decimal value and `Ccy` attribute of an amount element."""
    raw = (el.text or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise StatementError(f"{where}: amount {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise StatementError(f"{where}: amount {raw!r} must be a non-negative number")
    return limits.amount(value, raw, where), limits.currency((el.get("Ccy") or "").strip() or None, f"{where}/@Ccy")


def to_date(raw: str | None, where: str) -> date | None:
    """Date from an ISODate or the date part of an ISODateTime (the bank's own calendar day)."""
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise StatementError(f"{where}: {raw!r} is not an ISO date") from None


def to_datetime(raw: str | None, where: str) -> datetime | None:
    """Datetime from an ISODateTime (with or without zone, fractions of any length)."""
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise StatementError(f"{where}: {raw!r} is not an ISO date-time") from None


def reason(doc: Doc, el: etree._Element, path: str, where: str) -> tuple[str | None, str | None]:
    """(ISO reason code, text) from a `Rsn` choice plus `AddtlInf` under `path`; proprietary codes go to text."""
    code = limits.reason_code(doc.text(el, f"{path}/Rsn/Cd"), f"{where}/{path}/Rsn/Cd")
    proprietary = doc.text(el, f"{path}/Rsn/Prtry")
    parts = [f"[{proprietary}]"] if proprietary else []
    parts += doc.texts(el, f"{path}/AddtlInf")
    return code, " ".join(parts) or None
