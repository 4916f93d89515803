"""A citizen applies for themselves: the family proposed from the population register copy, confirmed, trimmed or
added to by PIN, then submitted through registration's own operation (channel portal), with its rules.

The register copy knows households, not family links between households: the family proposed is the citizen's
current household as the register records it (everyone living with them), the relations turned to be the
citizen's own. A person the citizen adds by PIN is looked up by the registration operation, which names what is
wrong (unknown PIN, deceased, in another household) in the citizen's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError, fields, pre_load, validate
from sqlalchemy import select

from connectors.catalog import SOURCES
from modules.registration import operations as registration
from modules.registration.models import Application, Channel, HouseholdMember, Person, Relation
from modules.registration.schemas import ApplicationArgs, LocalizedSchema, normalize_phone
from webapp.extensions import db
from webapp.programmes import offered_programmes

ADDED_ROWS = 3  # empty rows for members the register does not list with the citizen (no script adds more)
LANGUAGES = ("uz", "ru", "en")
CHOSEN = (Relation.spouse, Relation.child, Relation.parent, Relation.other)

# How a member's relation to the head of the household reads from another member's place: the citizen applying
# becomes the applicant, and every relation on the application is to them.
_FROM_SPOUSE = {Relation.head: Relation.spouse, Relation.child: Relation.child, Relation.parent: Relation.other}
_FROM_CHILD = {Relation.head: Relation.parent, Relation.spouse: Relation.parent}


@dataclass
class Proposed:
    person: Person
    relation: Relation


def household_of(citizen: Person) -> int | None:
    """The citizen's current household (None: the register lists them in none yet)."""
    return db.session.scalar(select(HouseholdMember.household_id).where(
        HouseholdMember.person_id == citizen.id, HouseholdMember.left_at.is_(None)).limit(1))


def proposed_family(citizen: Person) -> list[Proposed]:
    """Everyone the register lists in the citizen's household, living, each with their relation to the citizen."""
    household_id = household_of(citizen)
    if household_id is None:
        return []
    rows = db.session.scalars(select(HouseholdMember).where(
        HouseholdMember.household_id == household_id, HouseholdMember.left_at.is_(None))
        .order_by(HouseholdMember.id)).all()
    own = next((row.relation for row in rows if row.person_id == citizen.id), Relation.head)
    return [Proposed(row.person, _relative(own, row.relation)) for row in rows
            if row.person_id != citizen.id and row.person.death_date is None]


def _relative(own: Relation, theirs: Relation) -> Relation:
    if own is Relation.head:
        return Relation.other if theirs is Relation.head else theirs
    if own is Relation.spouse:
        return _FROM_SPOUSE.get(theirs, Relation.other)
    if own is Relation.child:
        return _FROM_CHILD.get(theirs, Relation.other)
    return Relation.other


# What each source is asked for, in words, and the item of the data-exchange list that allows it (connectors/
# catalog.py cites them in English for the record; the citizen reads them here, through the catalogs).
PURPOSES = {
    "population": _l("who you and your family are, and where you live"),
    "civil_registry": _l("births, marriages and deaths in the family"),
    "tax": _l("salaries and income from business"),
    "pension_fund": _l("pensions and benefits already paid"),
    "cadastre": _l("houses, flats and land owned"),
    "vehicles": _l("cars and other vehicles owned"),
    "penitentiary": _l("whether a family member is in prison"),
    "employment": _l("unemployment registration and public works"),
    "education": _l("who studies at a university or college"),
    "courts": _l("alimony paid and received"),
    "disability": _l("disability groups and how long they last"),
    "securities": _l("shares and other securities held"),
    "local_registers": _l("the mahalla's social registers"),
}
_ITEMS = {"civil_registry": 2, "tax": 1, "pension_fund": 4, "cadastre": 3, "vehicles": 6, "penitentiary": 7,
          "employment": 8, "education": 9, "courts": 10, "disability": 11, "securities": 12}


def data_sources() -> list[dict]:
    """Each registry the application asks, what for, and the legal basis, in the reader's language."""
    from flask_babel import gettext as _

    shown = []
    for source in SOURCES:
        item = _ITEMS.get(source.name)
        if item is not None:
            basis = _("Cabinet of Ministers Resolution No. 308 on the Single Registry of Social Protection, "
                      "list of data exchanged, item %(item)d", item=item)
        elif source.name == "population":
            basis = _("Cabinet of Ministers Resolution No. 308 on the Single Registry of Social Protection: "
                      "identification by PINFL")
        else:
            basis = _("Cabinet of Ministers Resolution No. 308 on the Single Registry of Social Protection: "
                      "social registers kept by mahallas")
        shown.append({"title": _(source.title), "purpose": str(PURPOSES.get(source.name, "")), "basis": basis})
    return shown


def programmes() -> list:
    return offered_programmes()


class ApplyArgs(LocalizedSchema):
    """The portal's form as it is posted: which proposed members stay (by person id, checked against the citizen's
    household), their relations, members added by PIN, programmes, phone, language, consent."""

    class Meta:
        unknown = EXCLUDE

    keep = fields.List(fields.Integer(strict=False), load_default=list)
    relations = fields.Dict(keys=fields.Integer(), values=fields.String(), load_default=dict)
    added = fields.List(fields.Dict(), load_default=list)
    programmes = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list)
    phone = fields.String(load_default="", validate=validate.Length(max=30))
    language = fields.String(load_default="uz", validate=validate.OneOf(
        LANGUAGES, error=_l("Choose a language.")))
    consent = fields.Boolean(load_default=False)

    @pre_load
    def from_form(self, data, **_kwargs):
        """A form's multi-dict becomes lists and the relation of each proposed member by its id."""
        if not hasattr(data, "getlist"):
            return data
        relations = {}
        for key in data:
            if key.startswith("relation-") and key[len("relation-"):].isdigit():
                relations[int(key[len("relation-"):])] = data.get(key, "")
        pins, kinds = data.getlist("new_pin"), data.getlist("new_relation")
        added = [{"pin": pin.strip(), "relation": (kinds[i] if i < len(kinds) else "").strip()}
                 for i, pin in enumerate(pins[:ADDED_ROWS * 10]) if pin.strip()]
        return {"keep": [value for value in data.getlist("keep") if value.isdigit() and len(value) < 10],
                "relations": relations, "added": added, "programmes": data.getlist("programmes"),
                "phone": data.get("phone", "").strip(), "language": data.get("language", "uz"),
                "consent": data.get("consent") in ("1", "on", "yes", "true")}


class PortalRefusal(registration.RegistrationError):
    """The form as the citizen filled it cannot be sent: the fields named, nothing saved."""

    def __init__(self, errors: dict[str, list]):
        super().__init__(errors, _l("The application was not sent: see the fields marked."))


def apply(citizen: Person, form) -> Application:
    """Validate the portal form, turn it into registration's ApplicationArgs and register it (submitted)."""
    try:
        args = ApplyArgs().load(form)
    except ValidationError as invalid:
        raise PortalRefusal({key: _flat(messages) for key, messages in invalid.messages.items()}) from invalid
    errors: dict[str, list] = {}
    if not args["consent"]:
        errors["consent"] = [_l("Agree to the data being requested, or the application cannot be assessed.")]
    proposed = {row.person.id: row for row in proposed_family(citizen)}
    members = []
    for person_id in dict.fromkeys(args["keep"]):
        row = proposed.get(person_id)
        if row is None:
            continue  # an id that is not a member of the citizen's household is not theirs to add
        relation = args["relations"].get(person_id) or row.relation.value
        if relation not in {value.value for value in CHOSEN}:
            errors.setdefault(f"relation-{person_id}", []).append(_l("Choose spouse, child, parent or other."))
        members.append({"pin": row.person.pin, "relation": relation, "field": f"member-{person_id}"})
    for i, added in enumerate(args["added"]):
        members.append({"pin": added.get("pin", ""), "relation": added.get("relation") or Relation.other.value,
                        "field": f"new-{i}"})
    if errors:
        raise PortalRefusal(errors)
    payload = {"applicant_pin": citizen.pin, "phone": normalize_phone(args["phone"]) if args["phone"] else "",
               "members": [{"pin": m["pin"], "relation": m["relation"]} for m in members],
               "programmes": args["programmes"], "channel": Channel.portal.value, "language": args["language"]}
    try:
        loaded = ApplicationArgs().load(payload)
    except ValidationError as invalid:
        raise PortalRefusal(_fields(invalid.messages, members)) from invalid
    try:
        return registration.register_application(loaded, None)  # the citizen, no staff user
    except registration.RegistrationError as refused:
        raise PortalRefusal(_fields(refused.errors, members)) from refused


def _fields(errors: dict, members: list[dict]) -> dict[str, list]:
    """Registration's field names (applicant_pin, members.N.pin) as the portal form's rows name them."""
    mapped: dict[str, list] = {}
    for key, messages in errors.items():
        if key == "members" and isinstance(messages, dict):
            for index, inner in messages.items():
                name = members[int(index)]["field"] if str(index).isdigit() and int(index) < len(members) \
                    else "members"
                mapped.setdefault(name, []).extend(_flat(inner))
            continue
        parts = key.split(".")
        if parts[0] == "members" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(members):
            key = members[int(parts[1])]["field"]
        elif key == "applicant_pin":
            key = "application"
        mapped.setdefault(key, []).extend(_flat(messages))
    return mapped


def _flat(messages) -> list:
    if isinstance(messages, dict):
        return [item for inner in messages.values() for item in _flat(inner)]
    if isinstance(messages, list | tuple):
        return [item for inner in messages for item in _flat(inner)]
    return [messages]
