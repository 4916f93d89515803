"""Persons (DCI `Member`) and households (DCI `Group`) as registry records, and the queries that select them.

A record holds only the fields the sender's policy allows. The fields, and the query attributes that read them:

- `identifier`: the PIN (`identifier`); queried as `pin`, `UIN`, `identifier`.
- `name`: `name` {given_name, surname, second_name}; queried as `given_name`/`first_name`, `surname`/
  `family_name`/`last_name`, `second_name`.
- `sex`, `birth_date` (also queried as `age`), `death_date`, `phone` (`phone_number`).
- `address`: `address` {admin_area, area_code}; queried as `area`/`area_code`: the code of an area (region,
  district, mahalla), matching everyone living in it.
- `household`: a Member's `group_identifier` and `relation`, a Group's `group_identifier`; queried as
  `household_id`/`group_identifier`. A Group record always lists its `members` (each with the fields allowed).
- `enrolment` (beneficiary registry): `enrolments`, each with its programme, enrolment date, end date, status and
  benefit (amount in UZS and frequency), shaped as the IBR specification's sample records.

Incomes and means-test data are not served by this registry at all. PINs are served only to a sender allowed
`identifier`; the household id to one allowed `household`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, not_, or_, select

from modules.registration.models import Household, HouseholdMember, Person
from webapp.models.area import Area

FIELDS = ("identifier", "name", "sex", "birth_date", "death_date", "phone", "address", "household", "enrolment")
DEFAULT_FIELDS = ("name", "sex", "birth_date", "address")
MEMBER, GROUP = "Member", "Group"
LANGUAGES = {"uzb": "uz", "rus": "ru", "eng": "en"}


class BadQuery(ValueError):
    """A query this registry cannot run (unknown attribute, operator or value)."""


class Forbidden(BadQuery):
    """A query naming an attribute the sender's policy does not allow."""


def _age_to_birth_dates(op: str, value: Any):
    years = int(value)
    today = date.today()
    cutoff = today.replace(year=today.year - years) if not (today.month == 2 and today.day == 29) \
        else today.replace(year=today.year - years, day=28)
    # age < n  ⇔  born after today − n years; other operators mirrored.
    return {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}[op], cutoff


# attribute → (field, column) for persons; "age" is special-cased.
_MEMBER_ATTRS: dict[str, tuple[str, Any]] = {
    "pin": ("identifier", Person.pin), "uin": ("identifier", Person.pin), "identifier": ("identifier", Person.pin),
    "given_name": ("name", Person.first_name), "first_name": ("name", Person.first_name),
    "surname": ("name", Person.last_name), "family_name": ("name", Person.last_name),
    "last_name": ("name", Person.last_name), "second_name": ("name", Person.patronymic),
    "sex": ("sex", Person.sex), "gender": ("sex", Person.sex),
    "birth_date": ("birth_date", Person.birth_date), "age": ("birth_date", None),
    "death_date": ("death_date", Person.death_date),
    "phone": ("phone", Person.phone), "phone_number": ("phone", Person.phone),
    "area_code": ("address", Area.code), "area": ("address", Area.code),
    "household_id": ("household", HouseholdMember.household_id),
    "group_identifier": ("household", HouseholdMember.household_id),
}
_GROUP_ATTRS: dict[str, tuple[str, Any]] = {
    "household_id": ("household", Household.id), "group_identifier": ("household", Household.id),
    "id": ("household", Household.id),
    "area_code": ("address", Area.code), "area": ("address", Area.code),
}
_OPS = {"eq": "__eq__", "ne": "__ne__", "gt": "__gt__", "lt": "__lt__", "ge": "__ge__", "le": "__le__"}
_MONGO_OPS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$lt": "lt", "$gte": "ge", "$lte": "le", "$in": "in"}


_SEX_WORDS = {"male": "M", "m": "M", "female": "F", "f": "F"}


def _coerce(column, value: Any) -> Any:
    if isinstance(value, bool | dict | list):
        raise BadQuery(f"unsupported value {value!r}")
    choices = getattr(getattr(column, "type", None), "enums", None)
    if choices:  # an enumerated column (sex): an unknown value matches nothing, as SQL would say
        text = _SEX_WORDS.get(str(value).lower(), str(value))
        if text not in choices:
            raise BadQuery(f"{value!r} is not one of {', '.join(choices)}")
        return text
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        python_type = str
    if python_type is date:
        try:
            return date.fromisoformat(str(value))
        except ValueError as exc:
            raise BadQuery(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if python_type is int:
        try:
            return int(str(value))
        except ValueError as exc:
            raise BadQuery(f"{value!r} is not a whole number") from exc
    return str(value)


class QueryBuilder:
    """Translates DCI conditions into SQL for one entity, checking each attribute against the allowed fields."""

    def __init__(self, entity: str, allowed: Iterable[str]) -> None:
        self.entity = entity
        self.allowed = set(allowed)
        self.attrs = _MEMBER_ATTRS if entity == MEMBER else _GROUP_ATTRS

    def condition(self, attribute: Any, op: str, value: Any):
        if not isinstance(attribute, str):
            raise BadQuery("attribute_name must be a string")
        key = attribute.lower()
        if key not in self.attrs:
            raise BadQuery(f"unknown attribute {attribute!r} for {self.entity}")
        field, column = self.attrs[key]
        if field not in self.allowed:
            raise Forbidden(f"attribute {attribute!r} is not allowed for this sender")
        if column is Area.code:
            return self._within(op, value)
        if op == "in":
            values = value if isinstance(value, list) else [value]
            if key == "age" or not values or len(values) > 100:
                raise BadQuery("`in` takes a list of 1 to 100 values")
            return column.in_([_coerce(column, v) for v in values])
        if op not in _OPS:
            raise BadQuery(f"unsupported operator {op!r}")
        if key == "age":
            try:
                op, cutoff = _age_to_birth_dates(op, value)
            except (TypeError, ValueError) as exc:
                raise BadQuery(f"age must be a whole number, not {value!r}") from exc
            return getattr(Person.birth_date, _OPS[op])(cutoff)
        return getattr(column, _OPS[op])(_coerce(column, value))

    def _within(self, op: str, value: Any):
        """An area code matches everyone living in that area or any area inside it (a region, a district)."""
        from webapp.extensions import db

        if op not in ("eq", "in"):
            raise BadQuery("areas are compared with eq or in")
        codes = value if isinstance(value, list) else [value]
        if not codes or len(codes) > 100 or not all(isinstance(code, str) for code in codes):
            raise BadQuery("an area is given by its code (a string), at most 100 of them")
        paths = list(db.session.scalars(select(Area.path).where(Area.code.in_(codes))))
        if len(paths) != len(set(codes)):
            raise BadQuery(f"unknown area code in {codes!r}")
        return or_(*(Area.path.startswith(path, autoescape=True) for path in paths))

    def expression(self, item: Any):
        if not isinstance(item, dict):
            raise BadQuery("an expression is an object {attribute_name, operator, attribute_value}")
        return self.condition(item.get("attribute_name"), str(item.get("operator")), item.get("attribute_value"))

    def predicate(self, items: Any):
        """The spec's list form: [{seq_num, expression1, condition (and/or/not), expression2}], items ANDed."""
        if not isinstance(items, list) or not items or len(items) > 20:
            raise BadQuery("a predicate query is a list of 1 to 20 expressions")
        clauses = []
        for item in items:
            if not isinstance(item, dict) or not item.get("expression1"):
                raise BadQuery("each predicate needs expression1")
            first = self.expression(item["expression1"])
            second = item.get("expression2")
            condition = item.get("condition") or "and"
            if second:
                second = self.expression(second)
                clauses.append({"and": and_, "or": or_}.get(condition, and_)(first, second)
                               if condition != "not" else and_(first, not_(second)))
            else:
                clauses.append(not_(first) if condition == "not" else first)
        return and_(*clauses)

    def nosql(self, query: Any, depth: int = 0):
        """A Mongo-style document: {"$and"|"$or": [...]} or {attribute: value | {"$op": value}}."""
        if depth > 8 or not isinstance(query, dict) or not query:
            raise BadQuery("an expression query is a non-empty object, at most 8 levels deep")
        clauses = []
        for key, value in query.items():
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise BadQuery(f"{key} takes a non-empty list")
                parts = [self.nosql(part, depth + 1) for part in value]
                clauses.append(and_(*parts) if key == "$and" else or_(*parts))
            elif isinstance(value, dict):
                for op, operand in value.items():
                    if op not in _MONGO_OPS:
                        raise BadQuery(f"unsupported operator {op!r}")
                    clauses.append(self.condition(key, _MONGO_OPS[op], operand))
            else:
                clauses.append(self.condition(key, "eq", value))
        return and_(*clauses)


def entity_of(criteria: dict) -> str:
    """Member (persons) unless the sender asks for Group, by `response_entity`, record type or collection."""
    hints = [criteria.get("response_entity"), criteria.get("reg_record_type")]
    query = criteria.get("query")
    if isinstance(query, dict) and isinstance(query.get("value"), dict):
        expression = query["value"].get("expression")
        if isinstance(expression, dict):
            hints.append(expression.get("collection"))
    for hint in hints:
        if isinstance(hint, str) and hint.rsplit(":", 1)[-1].lower() in ("group", "household"):
            return GROUP
    return MEMBER


def where_clause(criteria: dict, entity: str, allowed: Iterable[str]):
    """The SQL condition of a search's `query`, by `query_type`. Raises `BadQuery` / `Forbidden`."""
    builder = QueryBuilder(entity, allowed)
    query_type, query = criteria.get("query_type"), criteria.get("query")
    if query_type == "idtype-value":
        if not isinstance(query, dict) or not isinstance(query.get("type"), str):
            raise BadQuery("an idtype-value query is {type, value}")
        id_type = query["type"].rsplit(":", 1)[-1]
        return builder.condition(id_type, "eq", query.get("value"))
    if query_type == "predicate" or (query_type == "expression" and isinstance(query, list)):
        return builder.predicate(query)
    if query_type == "expression":
        value = query.get("value") if isinstance(query, dict) else None
        expression = value.get("expression") if isinstance(value, dict) else None
        if isinstance(expression, dict) and "query" in expression:
            return builder.nosql(expression["query"])
        if isinstance(expression, dict):
            return builder.expression(expression)
        if isinstance(value, dict) and value:
            return builder.nosql(value)
        raise BadQuery("an expression query is {type, value: {expression: {collection, query}}}")
    raise BadQuery(f"unsupported query_type {query_type!r}")


def subscription_filter(filter_value: Any, entity: str, allowed: Iterable[str]):
    """The SQL condition of a subscription's `filter` (the predicate list form); None: every event. Raises
    `BadQuery` / `Forbidden` for a filter this registry cannot apply."""
    if isinstance(filter_value, list) and filter_value:
        return QueryBuilder(entity, allowed).predicate(filter_value)
    if isinstance(filter_value, dict) and isinstance(filter_value.get("value"), dict) and filter_value["value"]:
        return QueryBuilder(entity, allowed).nosql(filter_value["value"])
    return None


def matches(entity: str, object_id: int, clause) -> bool:
    from webapp.extensions import db

    if clause is None:
        return True
    key = Person.id if entity == MEMBER else Household.id
    return db.session.scalar(select_ids(entity, and_(key == object_id, clause)).limit(1)) is not None


def select_ids(entity: str, clause, sort: Any = None):
    """Ids of the matching persons or households, in a stable order."""
    if entity == MEMBER:
        member = and_(HouseholdMember.person_id == Person.id, HouseholdMember.left_at.is_(None))
        stmt = (select(Person.id).join(Area, Area.id == Person.area_id)
                .outerjoin(HouseholdMember, member).where(clause))
        order = Person.id
    else:
        stmt = select(Household.id).join(Area, Area.id == Household.area_id).where(clause)
        order = Household.id
    if isinstance(sort, list) and sort and isinstance(sort[0], dict) and sort[0].get("sort_order") == "desc":
        order = order.desc()
    return stmt.order_by(order)


def _area(area: Area, language: str) -> dict[str, Any]:
    return {"admin_area": getattr(area, f"name_{language}", None) or area.name_uz, "area_code": area.code}


def member_record(person: Person, allowed: set[str], language: str, membership: HouseholdMember | None = None
                  ) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if "identifier" in allowed:
        record["identifier"] = [{"identifier_type": "PIN", "identifier_value": person.pin}]
    if "name" in allowed:
        record["name"] = {"given_name": person.first_name, "surname": person.last_name,
                          "second_name": person.patronymic}
    if "sex" in allowed:
        record["sex"] = str(person.sex)
    if "birth_date" in allowed:
        record["birth_date"] = person.birth_date.isoformat()
    if "death_date" in allowed and person.death_date:
        record["death_date"] = person.death_date.isoformat()
    if "phone" in allowed and person.phone:
        record["phone_number"] = person.phone
    if "address" in allowed:
        record["address"] = _area(person.area, language)
    if "household" in allowed and membership is not None:
        record["group_identifier"] = str(membership.household_id)
        record["relation"] = str(membership.relation)
    return record


def memberships(person_ids: list[int]) -> dict[int, HouseholdMember]:
    from webapp.extensions import db

    if not person_ids:
        return {}
    rows = db.session.scalars(select(HouseholdMember).where(HouseholdMember.person_id.in_(person_ids),
                                                            HouseholdMember.left_at.is_(None)))
    return {row.person_id: row for row in rows}


def group_record(household: Household, allowed: set[str], language: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if "household" in allowed:
        record["group_identifier"] = str(household.id)
    if "address" in allowed:
        record["address"] = _area(household.area, language)
    members = household.members
    record["group_size"] = len(members)
    record["members"] = [member_record(m.person, allowed, language, m) for m in members]
    return record
