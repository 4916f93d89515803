"""Administrative areas: region → district → mahalla. Every person, household, case and staff scope hangs off one."""

from __future__ import annotations

import enum

from flask_babel import get_locale
from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


class AreaLevel(enum.StrEnum):
    region = "region"
    district = "district"
    mahalla = "mahalla"


class Area(db.Model):
    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    level: Mapped[AreaLevel] = mapped_column(Enum(AreaLevel, name="area_level", native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    # Materialised path of ids ("/3/41/977/"): scope checks become one indexed LIKE instead of a recursive query.
    path: Mapped[str] = mapped_column(String(64), index=True)
    name_uz: Mapped[str] = mapped_column(String(120))
    name_ru: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    @property
    def name(self) -> str:
        """The name in the current user's language."""
        locale = str(get_locale() or "uz")
        return getattr(self, f"name_{locale}", None) or self.name_uz

    @property
    def full_name(self) -> str:
        parts, area = [], self
        while area is not None:
            parts.append(area.name)
            area = area.parent
        return ", ".join(parts)

    def contains(self, other: Area) -> bool:
        return other.path.startswith(self.path)

    def __repr__(self) -> str:
        return f"<Area {self.code}>"
