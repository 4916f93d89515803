"""The reader's words for the reporting summary's dimensions and their values: a page, a chart or an export of an
ad hoc report never shows a code.

`Labels(language)` names a dimension (`dimension("age_band")` → "Age band") and a value of it (`value("sex", "F")`
→ "Women", `value("programme", "child_allowance")` → the programme's name). Programmes, regions and districts are
named from their rows (name_uz/ru/en), read once per `Labels` in one query each; refusal rules by the title their
rule pack gives them. A value that is None (a figure not broken down by the dimension) reads "not applicable",
and a programme of None "All programmes": the rows with no programme count everyone once over all programmes.
"""

from __future__ import annotations

from contextlib import nullcontext

from flask import current_app, has_app_context
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.grievances.page_labels import KIND as CASE_KINDS
from modules.reporting import summary
from modules.reporting.month import month_bounds
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.models.area import AreaLevel

LANGUAGES = ("uz", "ru", "en")

DIMENSION_NAMES = {
    "period": _l("Month"),
    "programme": _l("Programme"),
    "region": _l("Region"),
    "district": _l("District"),
    "sex": _l("Sex"),
    "age_band": _l("Age band"),
    "household_size": _l("Household size"),
    "reason": _l("Reason"),
}
SEXES = {"F": _l("Women"), "M": _l("Men")}
AGE_BANDS = {
    "0-2": _l("0–2 years"),
    "3-5": _l("3–5 years"),
    "6-17": _l("6–17 years"),
    "18-29": _l("18–29 years"),
    "30-59": _l("30–59 years"),
    "60+": _l("60 and older"),
}
ENTRY_REASONS = {
    "claim": _l("new application"),
    "change": _l("change of circumstances"),
    "appeal": _l("appeal"),
    "returning": _l("returning after a break"),
}
EXIT_REASONS = {
    "death": _l("death"),
    "stopped": _l("stopped by a decision"),
    "term_ended": _l("granted period ended"),
}
NOT_APPLICABLE = _l("not applicable")
ALL_PROGRAMMES = _l("All programmes")

# What the summary's `reason` column holds for each indicator that fills it.
_REASONS_OF = {"new_entrants": ENTRY_REASONS, "exits": EXIT_REASONS, "cases_received": CASE_KINDS,
               "cases_resolved": CASE_KINDS, "cases_overdue": CASE_KINDS}
_FIXED = {"sex": SEXES, "age_band": AGE_BANDS}
_NAMED = {"programme": Programme, "region": Area, "district": Area}


def current_language() -> str:
    language = str(get_locale() or "uz")
    return language if language in LANGUAGES else "uz"


def dimension_codes(dimension: str) -> tuple:
    """The values a dimension takes that do not depend on the data (sex, age band, household size, reason)."""
    if dimension == "sex":
        return tuple(SEXES)
    if dimension == "age_band":
        return tuple(band for band, _years in summary.AGE_BANDS)
    if dimension == "household_size":
        return summary.HOUSEHOLD_SIZES
    return ()


def rule_titles(language: str) -> dict[str, str]:
    """{rule id: title in `language`} over the rule packs, the country's pack winning when two use an id."""
    from rules.pack import PackError, get_pack, pack_ids

    country = current_app.config.get("COUNTRY") if has_app_context() else None
    titles: dict[str, str] = {}
    for pack_id in sorted(pack_ids(), key=lambda item: item != country):
        try:
            pack = get_pack(pack_id)
        except PackError:
            continue
        for rule in pack.rules:
            title = rule.title.get(language) or rule.title.get("en") if rule.title else None
            titles.setdefault(rule.id, title or rule.id)
    return titles


class Labels:
    """Names of dimensions and values in one language; rows' names are read on first use and kept."""

    def __init__(self, language: str | None = None):
        # The words are the request's own locale's (whatever catalog it has) unless another language is asked
        # for; the names kept in the rows are those of the language, Uzbek for a locale they have no column for.
        self.language = language if language in LANGUAGES else current_language()
        self.locale = self.language if self.language != current_language() else None
        self._names: dict[str, dict[str, str]] = {}
        self._rules: dict[str, str] | None = None
        self._seen: dict[tuple, str] = {}

    def speaking(self):
        """The context in which gettext speaks this object's language."""
        return force_locale(self.locale) if self.locale else nullcontext()

    def _text(self, message) -> str:
        with self.speaking():
            return str(message)

    def dimension(self, name: str) -> str:
        message = DIMENSION_NAMES.get(name)
        return self._text(message) if message is not None else name

    def names(self, dimension: str) -> dict[str, str]:
        """{code: name} of the programmes, the regions or the districts, in one query."""
        if dimension not in self._names:
            model = _NAMED[dimension]
            query = select(model.code, getattr(model, f"name_{self.language}"), model.name_uz)
            if model is Area:
                query = query.where(Area.level == AreaLevel(dimension))
            self._names[dimension] = {code: name or fallback for code, name, fallback in db.session.execute(query)}
        return self._names[dimension]

    def rules(self) -> dict[str, str]:
        if self._rules is None:
            self._rules = rule_titles(self.language)
        return self._rules

    def value(self, dimension: str, code, indicator: str | None = None) -> str:
        """The reader's word for `code` of `dimension`; for a reason, `indicator` says which kind of reason
        (without it the entry and exit reasons, the case kinds and the rules are tried in turn)."""
        key = (dimension, code, indicator if dimension == "reason" else None)
        if key not in self._seen:
            self._seen[key] = self._value(dimension, code, indicator)
        return self._seen[key]

    def _value(self, dimension: str, code, indicator: str | None) -> str:
        if code is None or code == "":
            return self._text(ALL_PROGRAMMES if dimension == "programme" else NOT_APPLICABLE)
        if dimension == "period":
            return self._month(str(code))
        if dimension == "household_size":
            return self._household_size(code)
        if dimension in _FIXED:
            message = _FIXED[dimension].get(code)
            return self._text(message) if message is not None else str(code)
        if dimension in _NAMED:
            return self.names(dimension).get(code, str(code))
        if dimension == "reason":
            return self._reason(str(code), indicator)
        return str(code)

    def _month(self, period: str) -> str:
        from modules.portal.follow import period_words
        try:
            month_bounds(period)
        except ValueError:
            return period
        with self.speaking():
            return period_words(period)

    def _household_size(self, size) -> str:
        try:
            size = int(size)
        except (TypeError, ValueError):
            return str(size)
        with self.speaking():
            if size >= summary.HOUSEHOLD_SIZES[-1]:
                return _("%(num)d or more people", num=summary.HOUSEHOLD_SIZES[-1])
            return ngettext("%(num)d person", "%(num)d people", size)

    def _reason(self, code: str, indicator: str | None) -> str:
        if indicator == "refusal_reasons":
            # A rule's title names the condition a family must meet; as a reason for refusal it was not met.
            return self._not_met(self.rules().get(code, code))
        catalogs = [_REASONS_OF[indicator]] if indicator in _REASONS_OF else [ENTRY_REASONS, EXIT_REASONS,
                                                                               CASE_KINDS]
        for catalog in catalogs:
            if code in catalog:
                return self._text(catalog[code])
        return self._not_met(self.rules().get(code, code))

    def _not_met(self, condition: str) -> str:
        return self._text(_l("Not met: %(condition)s", condition=condition))


def label(dimension: str, value, language: str | None = None, indicator: str | None = None) -> str:
    """One value's word (reads the names afresh: for many values, keep one `Labels`)."""
    return Labels(language).value(dimension, value, indicator)
