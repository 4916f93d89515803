"""Area scoping: staff see and change only records in their areas. Applied in queries, never only in templates."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

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
