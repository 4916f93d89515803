"""Forms for staff accounts (Flask-WTF: CSRF-protected). Choices are filled in per request, in its language.

Every validator carries its own translated message: WTForms' built-in catalogs have no Uzbek.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, InputRequired, Length, Regexp

from webapp.auth.passwords import MIN_LENGTH
from webapp.models import Role

_REQUIRED = _l("This field is required.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _area_label(area) -> str:
    return f"— {area.name}" if area.level.value == "district" else area.name


def _at_most(count: int) -> Length:
    return Length(max=count, message=lazy_ngettext("At most %(num)d character.", "At most %(num)d characters.",
                                                   count))


def _password_validators():
    # The operations check the length too (they are the rule); checking it here as well lets a refused form list
    # every problem at once, so the password is not retyped once per mistake. The upper bound keeps hashing cheap.
    return [InputRequired(message=_REQUIRED),
            Length(min=MIN_LENGTH, message=lazy_ngettext("A password needs at least %(num)d character.",
                                                         "A password needs at least %(num)d characters.",
                                                         MIN_LENGTH)),
            _at_most(200)]


class _AccountForm(FlaskForm):
    """Role and scope: what an administrator sets when creating a user and may change later."""

    # Choices are checked by AnyOf / by the operation (with our messages), not by WTForms' own choice check.
    role = SelectField(_l("Role"), validate_choice=False,
                       validators=[InputRequired(message=_REQUIRED),
                                   AnyOf([role.value for role in Role], message=_l("Choose a role."))])
    national_scope = BooleanField(_l("National scope (every area)"))
    areas = SelectMultipleField(_l("Areas"), validate_choice=False)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [(role.value, _(role.value)) for role in Role]
        self.areas.choices = [(area.code, _area_label(area)) for area in areas]


class NewUserForm(_AccountForm):
    username = StringField(_l("Username"), filters=[_strip], validators=[
        InputRequired(message=_REQUIRED), _at_most(80),
        Regexp(r"^[A-Za-z0-9._-]+$", message=_l("Use only Latin letters, digits, dots, hyphens and underscores."))])
    full_name = StringField(_l("Full name"), filters=[_strip], validators=[
        InputRequired(message=_REQUIRED), _at_most(200)])
    language = SelectField(_l("Language"), validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=_password_validators())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [("", "—")] + self.role.choices  # no role pre-selected: nobody becomes admin by default
        languages = current_app.config["LANGUAGES"]
        self.language.choices = list(languages.items())
        self.language.validators = [AnyOf(list(languages), message=_l("Choose a language."))]


class EditUserForm(_AccountForm):
    active = BooleanField(_l("Active (may sign in)"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=_password_validators())
