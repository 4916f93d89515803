"""The monthly return's exports: XLSX, PDF and CSV, in Uzbek, Russian or English, internal or for publication
(small counts suppressed, see `tables`).

`write(monthly_return, "xlsx", path_or_stream, "ru", publication=True, definitions=..., names=...)` needs an
application context (the labels go through gettext); `monthly_return` is anything with `.period`, `.version`,
`.computed_at`, `.code_version`, `.data` and `.reconciliation`, as the frozen return has.
"""

from __future__ import annotations

import importlib

from flask_babel import force_locale

from modules.reporting.exports.labels import LANGUAGES, Names

FORMATS = ("xlsx", "pdf", "csv")


def write(monthly_return, format: str, path_or_stream, language: str = "uz", publication: bool = False,
          definitions: dict | None = None, names: dict | None = None) -> None:
    """Write the return in `format` to a path or a binary stream."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}")
    language = language if language in LANGUAGES else "uz"
    if definitions is None:
        definitions = registry_definitions()
    writer = importlib.import_module(f"modules.reporting.exports.{format}")
    with force_locale(language):
        writer.write(monthly_return, path_or_stream, language, publication, Names(language, names, definitions))


def registry_definitions() -> dict:
    """The indicators' names and definitions from the indicator registry, or none while it has none to give."""
    try:
        indicators = importlib.import_module("modules.reporting.indicators")
    except ImportError:
        return {}
    by_code = getattr(indicators, "by_code", None)
    return dict(by_code()) if callable(by_code) else {}
