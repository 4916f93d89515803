"""Social assistance programmes a household can apply for: one row per programme of a rule pack
(webapp/programmes.py loads them from the packs' `programmes:`)."""

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class Programme(db.Model):
    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    rule_pack: Mapped[str] = mapped_column(String(40))  # the pack that declares it and decides applications for it
    name_uz: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def name(self) -> str:
        from flask_babel import get_locale

        return getattr(self, f"name_{get_locale() or 'uz'}", None) or self.name_uz
