"""What an ad hoc report's address and forms may carry, read by marshmallow: indicators, up to two breakdowns,
months, filters; a saved report's name.

Every code is checked against the lists it must come from (the summary's indicators and dimensions, the
programmes and areas of the registry), repeated values count once, and a list longer than its choices is refused
before anything is looked up, so that no address, however odd, reaches the database unread. Messages are in the
reader's language.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from marshmallow import EXCLUDE, ValidationError, fields, post_load, pre_load, validates_schema

from modules.registration.schemas import LocalizedSchema
from modules.reporting import summary
from modules.reporting.adhoc.models import NAME_MAX
from modules.reporting.adhoc.operations import FILTERS, MAX_MONTHS, PERIOD, Choices, Definition, months_between

FIRST_MONTH = "2000-01"  # nothing in the registry is older
_NOT_UNDERSTOOD = {"invalid": _l("This value is not understood."), "null": _l("This value is not understood."),
                   "required": _l("This field is required.")}
_SHOWN = 40  # characters of an unknown value repeated in a message


def _strings(**kwargs):
    return fields.List(fields.String(error_messages=_NOT_UNDERSTOOD), load_default=list,
                       error_messages=_NOT_UNDERSTOOD, **kwargs)


def _text(**kwargs):
    return fields.String(load_default=None, allow_none=True, error_messages=_NOT_UNDERSTOOD, **kwargs)


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "…"


class ReportArgs(LocalizedSchema):
    """An ad hoc report's definition from the query string (or a saved report's JSON)."""

    class Meta:
        unknown = EXCLUDE

    indicators = _strings()
    rows = _text()
    columns = _text()
    first = _text()
    last = _text()
    programme = _strings()
    region = _strings()
    district = _strings()
    sex = _strings()
    age_band = _strings()
    household_size = _strings()

    def __init__(self, choices: Choices, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = choices

    @staticmethod
    def args_of(multidict) -> dict:
        """A request's arguments as the schema reads them: lists for what may repeat, the first value else."""
        lists = ("indicators", *FILTERS)
        return {**{name: multidict.getlist(name) for name in lists if name in multidict},
                **{name: multidict.get(name) for name in ("rows", "columns", "first", "last") if name in multidict}}

    @pre_load
    def tidy(self, data, **_kwargs):
        """Trim, drop blanks, count a repeated value once; a list with more values than there are choices for it
        is refused at once."""
        if not isinstance(data, dict):
            raise ValidationError(str(_l("This value is not understood.")))
        tidy, errors = {}, {}
        for name, value in data.items():
            if isinstance(value, str):
                value = value.strip() or None
            elif isinstance(value, list | tuple):
                value = list(dict.fromkeys(item.strip() if isinstance(item, str) else item for item in value
                                           if item not in ("", None)))
                if len(value) > max(len(self.choices.allowed(name)), 1):
                    errors[name] = [str(_l("Too many values."))]
            elif isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            tidy[name] = value
        if errors:
            raise ValidationError(errors)
        return tidy

    @validates_schema
    def check(self, data, **_kwargs):
        errors: dict[str, list[str]] = {}

        def refuse(name: str, message) -> None:
            errors.setdefault(name, []).append(str(message))

        if not data["indicators"]:
            refuse("indicators", _l("Choose at least one indicator."))
        for name in ("indicators", *FILTERS):
            unknown = [value for value in data[name] if value not in self.choices.allowed(name)]
            if unknown:
                refuse(name, _l("Not in the list: %(values)s.", values=", ".join(_shown(v) for v in unknown[:3])))
        for name in ("rows", "columns"):
            if data[name] is not None and data[name] not in summary.DIMENSIONS:
                refuse(name, _l("Choose a breakdown from the list."))
        if data["rows"] is not None and data["rows"] == data["columns"]:
            refuse("columns", _l("Choose two different breakdowns."))
        self._check_months(data, refuse)
        regions = set(data["region"])
        if regions and not errors.get("district"):
            outside = [code for code in data["district"] if self.choices.districts.get(code) not in regions]
            if outside:
                refuse("district", _l("The district is not in the chosen region."))
        if errors:
            raise ValidationError(errors)

    def _check_months(self, data, refuse) -> None:
        last_allowed = self.choices.current_month
        for name in ("first", "last"):
            value = data[name]
            if value is None:
                refuse(name, _l("This field is required."))
            elif not PERIOD.match(value):
                refuse(name, _l("The period must be a month written YYYY-MM, e.g. 2026-01."))
            elif not FIRST_MONTH <= value <= last_allowed:
                refuse(name, _l("Choose a month from %(first)s to %(last)s.", first=FIRST_MONTH, last=last_allowed))
        first, last = data["first"], data["last"]
        if not all(value and PERIOD.match(value) for value in (first, last)):
            return
        if first > last:
            refuse("first", _l("The first month comes after the last one."))
        elif len(months_between(first, last)) > MAX_MONTHS:
            refuse("first", lazy_ngettext("A report covers at most %(num)d month.",
                                          "A report covers at most %(num)d months.", MAX_MONTHS))

    @post_load
    def definition(self, data, **_kwargs) -> Definition:
        rows, columns = data["rows"], data["columns"]
        if rows is None:  # the one breakdown chosen is the rows
            rows, columns = columns, None
        indicators = [code for code in self.choices.indicators if code in data["indicators"]]
        filters = {name: sorted(data[name], key=lambda v: (len(v), v)) for name in FILTERS if data[name]}
        return Definition(tuple(indicators), rows, columns, data["first"], data["last"], filters)


class SaveArgs(LocalizedSchema):
    """The name a report is saved under."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, allow_none=True, error_messages=_NOT_UNDERSTOOD)
    moving = fields.Boolean(load_default=False, error_messages=_NOT_UNDERSTOOD)

    @pre_load
    def strip(self, data, **_kwargs):
        if not hasattr(data, "get"):
            raise ValidationError(str(_l("This value is not understood.")))
        name = data.get("name")
        return {"name": " ".join(name.split()) if isinstance(name, str) else name,
                "moving": data.get("moving") in ("1", "on", "true", True)}

    @validates_schema
    def check(self, data, **_kwargs):
        name = data.get("name")
        if not name:
            raise ValidationError({"name": [str(_l("Give the report a name."))]})
        if len(name) > NAME_MAX:
            raise ValidationError({"name": [str(lazy_ngettext("Keep the name to %(num)d character or fewer.",
                                                              "Keep the name to %(num)d characters or fewer.",
                                                              NAME_MAX))]})
