"""The words every export shares, through gettext: call these inside `force_locale(language)`."""

from __future__ import annotations

import math
from decimal import Decimal

from flask_babel import gettext as _

from modules.reporting.exports.tables import SUPPRESSED

LANGUAGES = ("uz", "ru", "en")


def unit_name(unit: str) -> str:
    return {
        "people": _("people"),
        "households": _("households"),
        "applications": _("applications"),
        "cases": _("cases"),
        "certificates": _("certificates"),
        "days": _("days"),
        "UZS": "UZS",
        "percent": "%",
    }.get(unit, unit)


def title() -> str:
    return _("Monthly return")


def status(publication: bool) -> str:
    return _("For publication") if publication else _("Internal, not for publication")


def suppression_note() -> str:
    return _("Counts of 1 to 4 are shown as <5, and so is one more figure of the same row or column, so that "
             "the total cannot give them away. Totals and amounts in UZS are shown in full.")


class Names:
    """Programme, region and indicator names in the export's language, the code when none is given.

    `names` is either {"programmes": {code: name}, "regions": {code: name}} or one {code: name} for both;
    `definitions` is {indicator code: {"name": {language: ...}, "definition": {language: ...}, "unit": ...}}."""

    def __init__(self, language: str, names: dict | None, definitions: dict | None):
        self.language = language
        names = names or {}
        if "programmes" in names or "regions" in names:
            self._programmes, self._regions = names.get("programmes") or {}, names.get("regions") or {}
        else:
            self._programmes = self._regions = names
        self.definitions = definitions or {}
        self._labels = None

    @property
    def labels(self):
        """The summary's words for dimension values (districts, sex, reasons, rules…) in this language."""
        if self._labels is None:
            from modules.reporting.dimensions import Labels

            self._labels = Labels(self.language)
        return self._labels

    def column(self, table, code) -> str:
        """A column of an indicator's table: a programme, or a case's kind or a refusal's rule in words."""
        if table.across == "programme" or code is None:
            return self.programme(code)
        return self.labels.value("reason", code, "refusal_reasons" if table.across == "rule" else "cases_received")

    def programme(self, code) -> str:
        return _("All programmes") if code is None else str(self._programmes.get(code, code))

    def region(self, code) -> str:
        return _("All regions") if code is None else str(self._regions.get(code, code))

    def _text(self, code: str, key: str) -> str:
        entry = self.definitions.get(code) or {}
        value = (entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)) or {}
        if isinstance(value, str):
            return value
        return value.get(self.language) or value.get("en") or next(iter(value.values()), "")

    def indicator(self, code: str) -> str:
        return self._text(code, "name") or code

    def definition(self, code: str) -> str:
        return self._text(code, "definition")


def format_value(value, unit: str, language: str = "en") -> str:
    """A figure as people read it: digits grouped by narrow spaces, a decimal comma in Uzbek and Russian, UZS with
    tiyin, percentages with %."""
    if value is None:
        return ""
    if value == SUPPRESSED or isinstance(value, str):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if unit == "UZS":
        text = f"{Decimal(str(value)):,.2f}"
    elif unit in ("percent", "days"):
        text = f"{float(value):,.1f}"
    else:
        text = f"{value:,.0f}" if float(value).is_integer() else f"{float(value):,.1f}"
    text = text.replace(",", "\u202f")
    if language in ("uz", "ru"):
        text = text.replace(".", ",")
    return text + "%" if unit == "percent" else text


def reconciled(ok: bool) -> str:
    return (_("The return agrees with the source records.") if ok
            else _("The return differs from the source records:"))
