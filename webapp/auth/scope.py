"""Area scoping: staff see and change only records in their areas. Applied in queries, never only in templates."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy import ColumnElement, false, func, or_, select, true

from webapp.extensions import db
from webapp.models import Area


def area_clause(user, area_id_column) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose area lies inside one of the user's scopes."""
    if user.national_scope:
        return true()
    paths = [scope.area.path for scope in user.scopes]
    if not paths:
        return false()
    inside = select(Area.id).where(or_(*(Area.path.startswith(path) for path in paths)))
    return area_id_column.in_(inside)


def user_covers_area(user, area_id: int) -> bool:
    return bool(db.session.scalar(select(Area.id).where(Area.id == area_id, area_clause(user, Area.id))))


def areas_in_scope(user, level=None):
    """The areas a user may work in (for pickers and filters), ordered by code."""
    query = select(Area).where(area_clause(user, Area.id)).order_by(Area.code)
    if level is not None:
        query = query.where(Area.level == level)
    return db.session.scalars(query).all()


def area_choices(user, levels) -> list:
    """The areas of `levels` a user may pick in a list's filter, ordered by code: rows of (id, code, level, name in
    the reader's language). Plain rows in one query, not objects: a national user's picker lists every region and
    district, on every list page."""
    column = getattr(Area, f"name_{get_locale() or 'uz'}", Area.name_uz)
    name = func.coalesce(func.nullif(column, ""), Area.name_uz).label("name")
    query = select(Area.id, Area.code, Area.level, name).where(area_clause(user, Area.id), Area.level.in_(levels))
    return db.session.execute(query.order_by(Area.code)).all()
