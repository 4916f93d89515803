"""Words for what the means test writes as codes: rule-pack parameters and their units on the simulation page,
and the notes that collection and assessment leave on an application's timeline.

Parameters are named here rather than in the pack because their names must go through the catalog like every
other word on a page; a parameter a pack adds before it is named here reads as "Parameter N of the pack".
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from connectors.catalog import BY_NAME as SOURCES_BY_NAME
from rules.pack import Pack, PackError, get_pack

PARAMETERS = {
    "income_window_months": _l("Months of income counted"),
    "income_threshold": _l("Income threshold per person"),
    "guaranteed_minimum_income": _l("Guaranteed minimum income per person"),
    "working_age_min": _l("Working age from"),
    "retirement_age_male": _l("Pension age of men"),
    "retirement_age_female": _l("Pension age of women"),
    "child_age_limit": _l("Children counted up to the age of"),
    "care_child_age_limit": _l("Caring for a child younger than"),
    "many_children": _l("Many children: more than"),
    "car_age_limit_years": _l("A car newer than this disqualifies"),
    "max_passenger_cars": _l("Passenger cars allowed"),
    "max_dwellings": _l("Dwellings allowed"),
    "securities_value_limit": _l("Securities allowed up to"),
    "child_allowance_per_child": _l("Child allowance per child"),
    "child_allowance_months": _l("Child allowance: months assigned"),
    "material_support_amount": _l("Material support per household"),
    "material_support_months": _l("Material support: months assigned"),
    "disabled_child_care_amount": _l("Caregiver allowance per child with a disability"),
    "disabled_child_care_months": _l("Caregiver allowance: months assigned"),
    "maternity_child_age_months": _l("Maternity benefit for a child younger than"),
    "maternity_monthly_amount": _l("Maternity benefit per month"),
    "maternity_months": _l("Maternity benefit: months assigned"),
    "benefit_per_child": _l("Benefit per child"),
    "benefit_months": _l("Benefit: months assigned"),
}

# Units as the packs write them, with the currency written as CUR: the reader's currency name takes its place.
UNITS = {
    "years": _l("years"),
    "months": _l("months"),
    "children": _l("children"),
    "cars": _l("cars"),
    "dwellings": _l("dwellings"),
    "CUR per month": _l("%(currency)s per month"),
    "CUR per person per month": _l("%(currency)s per person per month"),
    "CUR per child per month": _l("%(currency)s per child per month"),
    "CUR per household per month": _l("%(currency)s per household per month"),
}


# A rule pack is named on pages by the country it is for.
PACKS = {"uz": _l("Uzbekistan"), "kg": _l("Kyrgyzstan")}


def pack_label(pack_id: str) -> str:
    label = PACKS.get(pack_id)
    return str(label) if label is not None else _("Rule pack %(id)s", id=pack_id)


def parameter_label(pack: Pack, name: str) -> str:
    label = PARAMETERS.get(name)
    if label is not None:
        return str(label)
    names = list(pack.versions[-1].parameters)
    return _("Parameter %(number)d of the pack", number=names.index(name) + 1 if name in names else len(names) + 1)


def parameter_unit(pack: Pack, unit: str | None) -> str:
    """A pack's unit in the reader's words ("" when the pack gives none or one not named here)."""
    from webapp.formatting import currency

    if not unit:
        return ""
    key = re.sub(rf"\b{re.escape(pack.currency)}\b", "CUR", unit.strip())
    if key == "CUR":
        return currency(pack.currency)
    label = UNITS.get(key)
    return str(label) % {"currency": currency(pack.currency)} if label is not None else ""


# Documents a family brings when a source did not answer, from which staff enter its records by hand.
DOCUMENT_TYPES = {
    "certificate": _l("Certificate from the holder of the register"),
    "statement": _l("Statement of account or of payments"),
    "court_decision": _l("Court decision"),
    "identity_document": _l("Identity document"),
    "other": _l("Other official document"),
}


def document_label(entry) -> str:
    """"Court decision No. 12/4 of 03.10.2026": the document records entered by hand were read from."""
    kind = DOCUMENT_TYPES.get(entry.document_type)
    return _("%(type)s No. %(number)s of %(date)s", type=str(kind) if kind is not None else entry.document_type,
             number=entry.document_number, date=entry.document_date.strftime("%d.%m.%Y"))


# The notes on an application's timeline, as modules/means_test writes them: "<pack>@<version>: <decision>" on
# assessment, "<decision>" on the decision, "retry: <sources>" and "no answer from: <sources>" in collection,
# "entered by hand: <source>" when confirmed records entered by hand complete a collection.
_ASSESSED = re.compile(r"^(?P<pack>[a-z]+)@(?P<version>[\w.+-]+): (?P<decision>eligible|ineligible)$")
_SOURCES = {"retry": _l("Retried: %(sources)s"), "no answer from": _l("No answer from: %(sources)s"),
            "entered by hand": _l("Records entered by hand and confirmed: %(sources)s")}
_NOTES = {"eligible": _l("eligible"), "ineligible": _l("ineligible"),
          "collection failed repeatedly": _l("Collection failed repeatedly")}


def timeline_note(note: str | None) -> str:
    """A timeline note in the reader's words; a note written by a person (a withdrawal's reason) as it is."""
    if not note:
        return ""
    if note in _NOTES:
        return str(_NOTES[note])
    if match := _ASSESSED.match(note):
        return _("%(decision)s under the rules in force from %(date)s", decision=_(match["decision"]),
                 date=_version_date(match["pack"], match["version"]))
    head, colon, tail = note.partition(": ")
    if colon and head in _SOURCES:
        return str(_SOURCES[head]) % {"sources": ", ".join(source_title(name.strip()) for name in tail.split(","))}
    return note


def source_title(name: str) -> str:
    source = SOURCES_BY_NAME.get(name)
    return _(source.title) if source else name


def _version_date(pack_id: str, version: str) -> str:
    try:
        return get_pack(pack_id).version_named(version).effective_from.strftime("%d.%m.%Y")
    except (PackError, KeyError, FileNotFoundError):
        return version


def register(app) -> None:
    for function in (pack_label, parameter_label, parameter_unit, timeline_note, source_title, document_label):
        app.add_template_global(function)
