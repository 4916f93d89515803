"""Schema validation of a document as it is read, without building its tree: libxml2's own streaming validator
(`xmlSchemaValidateStream`, the parser's events checked against the compiled XSD as they come), called through
ctypes on the system's libxml2, the library lxml is built on.

lxml validates a tree, so it first builds one of every element and text of the document: for a payroll's file,
millions of nodes, most of the cost of checking it. The streaming validator reads the same bytes with the same
library and the same schema and keeps nothing, about twice as fast.

It answers only valid or not. `available()` is False where the system has no libxml2 (then lxml checks everything);
the caller validates the whole file with lxml for the report when a part is not valid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import cache
from pathlib import Path

_own = threading.local()
# libxml2's error callbacks: (user data, error); they are left silent, the report comes from lxml.
_STRUCTURED_ERROR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_SILENT = _STRUCTURED_ERROR(lambda _data, _error: None)


@cache
def _library():
    """The system's libxml2 with the signatures used here, initialised for threads; None if there is none."""
    name = ctypes.util.find_library("xml2")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.xmlInitParser.restype = None
        lib.xmlSchemaNewParserCtxt.restype = ctypes.c_void_p
        lib.xmlSchemaNewParserCtxt.argtypes = [ctypes.c_char_p]
        lib.xmlSchemaParse.restype = ctypes.c_void_p
        lib.xmlSchemaParse.argtypes = [ctypes.c_void_p]
        lib.xmlSchemaFreeParserCtxt.argtypes = [ctypes.c_void_p]
        lib.xmlSchemaNewValidCtxt.restype = ctypes.c_void_p
        lib.xmlSchemaNewValidCtxt.argtypes = [ctypes.c_void_p]
        lib.xmlSchemaSetValidStructuredErrors.argtypes = [ctypes.c_void_p, _STRUCTURED_ERROR, ctypes.c_void_p]
        lib.xmlSetStructuredErrorFunc.argtypes = [ctypes.c_void_p, _STRUCTURED_ERROR]
        lib.xmlParserInputBufferCreateMem.restype = ctypes.c_void_p
        lib.xmlParserInputBufferCreateMem.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.xmlSchemaValidateStream.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                                ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    lib.xmlInitParser()  # once, before any thread parses
    return lib


def available() -> bool:
    return _library() is not None


def _context(xsd: Path):
    """This thread's validation context of the schema (libxml2's contexts are not shared between threads)."""
    contexts = _own.__dict__.setdefault("contexts", {})
    if xsd not in contexts:
        lib = _library()
        lib.xmlSetStructuredErrorFunc(None, _SILENT)  # this thread's parser errors: silent as well
        parser = lib.xmlSchemaNewParserCtxt(str(xsd).encode())
        schema = lib.xmlSchemaParse(parser)
        lib.xmlSchemaFreeParserCtxt(parser)
        context = lib.xmlSchemaNewValidCtxt(schema) if schema else None
        if context:
            lib.xmlSchemaSetValidStructuredErrors(context, _SILENT, None)
        contexts[xsd] = context
    return contexts[xsd]


def is_valid(document: bytes, xsd: Path) -> bool | None:
    """True if `document` is well-formed and valid against the schema in `xsd`, False if not; None if this cannot
    tell (no libxml2, the schema not loaded, a document too large for one buffer)."""
    lib = _library()
    if lib is None or len(document) >= 2**31:
        return None
    context = _context(xsd)
    if not context:
        return None
    # The buffer is libxml2's own copy of the bytes, freed by the validation with its parser.
    buffer = lib.xmlParserInputBufferCreateMem(document, len(document), 0)
    if not buffer:
        return None
    return lib.xmlSchemaValidateStream(context, buffer, 0, None, None) == 0
