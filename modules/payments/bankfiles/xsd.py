"""Schema validation of pain.001 files against the ISO 20022 XSDs shipped in `xsd/` (see `xsd/README.md`)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path

from lxml import etree

from modules.payments.bankfiles import streaming
from modules.payments.bankfiles.model import BankFileError

XSD_DIR = Path(__file__).with_name("xsd")
VERSIONS = ("pain.001.001.03", "pain.001.001.09")
MAX_REPORTED = 5

# An lxml schema keeps the error log of its last run on the object; the lock keeps threads from mixing them.
_lock = threading.Lock()


@cache
def schema(version: str) -> etree.XMLSchema:
    """Return the parsed schema of `version`, loaded once per process."""
    if version not in VERSIONS:
        raise BankFileError(f"version: must be one of {', '.join(VERSIONS)}, got {version!r}")
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version}.xsd")))


def validate(xml_bytes: bytes, version: str) -> None:
    """Raise `BankFileError` listing the first schema errors (with line numbers) if the file is not valid."""
    xsd = schema(version)
    # The files checked here are our own, but the parser is locked down anyway: no entities, no network.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        document = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError as error:
        raise BankFileError(f"not well-formed XML: line {error.lineno}: {error.msg}") from error
    with _lock:
        if xsd.validate(document):
            return
        errors = [f"line {e.line}: {e.message}" for e in list(xsd.error_log)[:MAX_REPORTED]]
    raise BankFileError(f"not a valid {version} file:\n" + "\n".join(errors))


# Large files are checked in parts on several threads: libxml2 parses and validates without holding the GIL.
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
_own = threading.local()


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="xsd")


def _own_schema(version: str) -> etree.XMLSchema:
    """This thread's own copy of the schema (each copy keeps its own error log, so no lock is needed)."""
    schemas = _own.__dict__.setdefault("schemas", {})
    if version not in schemas:
        schemas[version] = etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version}.xsd")))
    return schemas[version]


def _part_is_valid(xml_bytes: bytes, version: str) -> bool:
    answer = streaming.is_valid(xml_bytes, XSD_DIR / f"{version}.xsd")  # the same checks, without a tree
    if answer is not None:
        return answer
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        document = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError:
        return False
    return _own_schema(version).validate(document)


def submit(document: bytes, version: str) -> Future:
    """Start checking one document on the pool: a future of True if it is well-formed and valid (no error report:
    validate the whole file for that). The caller goes on writing the next part meanwhile."""
    schema(version)  # refuses an unknown version as `validate` does
    return _pool().submit(_part_is_valid, document, version)


def all_valid(documents: list[bytes], version: str) -> bool:
    """True if every document is well-formed and valid against `version`, checked in parallel; no error report
    (validate the whole file for that)."""
    schema(version)  # refuses an unknown version as `validate` does
    return all(_pool().map(_part_is_valid, documents, [version] * len(documents)))
