"""Administration pages. Thin: load, check permission, validate, call an operation, render (the transaction
boundary commits, or rolls back a refused change)."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from webapp.admin.forms import EditUserForm, NewUserForm, ResetPasswordForm
from webapp.admin.schemas import AuditFilterArgs, UserFilterArgs
from webapp.audit import verify_chain
from webapp.auth import operations, totp
from webapp.auth.passwords import MIN_LENGTH
from webapp.auth.permissions import require
from webapp.auth.scope import areas_in_scope
from webapp.boundary import caught_refusal
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import ApiToken, AreaLevel, AuditEvent, User, UserArea
from webapp.timeutil import local_day_start

# --- helpers ---------------------------------------------------------------------------------------------------


def _assignable_areas(user: User | None = None):
    """Regions and districts the signed-in admin may give, plus those the edited user already has (kept visible so
    that saving the form does not silently drop areas outside the admin's own scope)."""
    areas = {area.code: area for level in (AreaLevel.region, AreaLevel.district)
             for area in areas_in_scope(current_user, level)}
    for area in user.areas if user else ():
        areas.setdefault(area.code, area)
    return sorted(areas.values(), key=lambda area: area.code)


def _merge_errors(form, errors: dict[str, list[str]]) -> None:
    """Put an operation's refusals next to the form fields they concern (others go to the form's top)."""
    for key, messages in errors.items():
        field = getattr(form, key, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + messages
        else:
            form.form_errors.extend(messages)


def _keep_own_session(user: User, sessions_ended: bool) -> None:
    """An administrator who changed their own account stays signed in here; their other sessions have ended."""
    if sessions_ended and user.id == current_user.id:
        login_user(user)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


# --- users -----------------------------------------------------------------------------------------------------


@require("user.manage")
def user_list():
    filters = load_filters(UserFilterArgs())
    query = select(User).options(selectinload(User.scopes).selectinload(UserArea.area)).order_by(
        func.lower(User.username))
    if filters["q"]:
        pattern = f"%{filters['q'].lower()}%"
        query = query.where(or_(func.lower(User.username).like(pattern), func.lower(User.full_name).like(pattern)))
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    return render_template("admin/users.html", page=page, filters=filters, is_locked=operations.is_locked)


@require("user.manage")
def user_new():
    form = NewUserForm(areas=_assignable_areas())
    if request.method == "GET":
        form.language.data = current_app.config["BABEL_DEFAULT_LOCALE"]
    elif form.validate_on_submit():
        with caught_refusal(flash_it=False) as caught:
            user = operations.create_user(form.username.data, form.password.data, form.role.data,
                                          form.full_name.data, form.areas.data or [],
                                          national_scope=form.national_scope.data, language=form.language.data,
                                          actor=current_user)
        _merge_errors(form, caught.errors)
        if not caught:
            flash(_("User %(name)s created. Give them the initial password in person.", name=user.username),
                  "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    failed = request.method == "POST"  # only a refused form comes back from a POST
    return render_template("admin/user_new.html", form=form, min_password=MIN_LENGTH), 422 if failed else 200


def _edit_page(user: User, form=None, password_form=None, status: int = 200):
    if form is None:
        form = EditUserForm(formdata=None, areas=_assignable_areas(user),
                            data={"role": user.role.value, "national_scope": user.national_scope,
                                  "areas": [area.code for area in user.areas], "active": user.active})
    return render_template("admin/user_edit.html", user=user, form=form,
                           password_form=password_form or ResetPasswordForm(formdata=None),
                           locked=operations.is_locked(user), min_password=MIN_LENGTH,
                           code_entry_locked=totp.locked_for(user) is not None), status


@require("user.manage")
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _edit_page(user)
    form = EditUserForm(areas=_assignable_areas(user))
    if form.validate_on_submit():
        with caught_refusal(flash_it=False) as caught:
            changes = operations.update_user(user, current_user, form.role.data, form.areas.data or [],
                                             national_scope=form.national_scope.data, active=form.active.data)
        _merge_errors(form, caught.errors)
        if not caught:
            _keep_own_session(user, bool(changes))
            if changes:
                flash(_("Changes to %(name)s saved.", name=user.username), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return _edit_page(user, form=form, status=422)


@require("user.manage")
def user_unlock(user_id: int):
    user = _user_or_404(user_id)
    if operations.unlock_user(user, current_user):
        flash(_("%(name)s can sign in again.", name=user.username), "success")
    else:
        flash(_("%(name)s was not locked out.", name=user.username), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@require("user.manage")
def user_password(user_id: int):
    user = _user_or_404(user_id)
    password_form = ResetPasswordForm()
    if password_form.validate_on_submit():
        with caught_refusal(flash_it=False) as caught:
            operations.reset_password(user, password_form.password.data, current_user)
        _merge_errors(password_form, caught.errors)
        if not caught:
            _keep_own_session(user, True)
            flash(_("Password of %(name)s changed. Give them the new password in person.", name=user.username),
                  "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return _edit_page(user, password_form=password_form, status=422)


@require("user.manage")
def user_authenticator_reset(user_id: int):
    """A lost phone: the authenticator is removed and any lock on code entry lifted; the user sets up a new one."""
    user = _user_or_404(user_id)
    totp.reset_authenticator(user, current_user)
    flash(_("The authenticator of %(name)s was reset: they set up a new one with their password.",
            name=user.username), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@require("user.manage")
def user_tokens(user_id: int):
    """A user's API tokens: name, issued, expires, last used, state; live ones can be revoked."""
    user = _user_or_404(user_id)
    return render_template("admin/user_tokens.html", user=user, tokens=operations.tokens_of(user),
                           state=operations.token_state)


@require("user.manage")
def token_revoke(user_id: int, token_id: int):
    user = _user_or_404(user_id)
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None or api_token.user_id != user.id:
        abort(404)
    if operations.revoke_token(api_token, current_user):
        flash(_("The token %(name)s was revoked: it no longer opens the API.", name=api_token.name), "success")
    else:
        flash(_("The token %(name)s was already revoked.", name=api_token.name), "info")
    return redirect(url_for("admin.user_tokens", user_id=user.id))


# --- audit trail -----------------------------------------------------------------------------------------------


def _audit_query(filters: dict):
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters["action"]:
        # "user" finds every user.* action; "user.created" only that one.
        action = filters["action"]
        query = query.where(or_(AuditEvent.action == action, AuditEvent.action.startswith(action + ".",
                                                                                            autoescape=True)))
    if filters["actor"]:
        query = query.where(func.lower(AuditEvent.actor_name) == filters["actor"].lower())
    if filters["object_type"]:
        query = query.where(AuditEvent.object_type == filters["object_type"])
    if filters["object_id"]:
        query = query.where(AuditEvent.object_id == filters["object_id"])
    if filters["date_from"]:
        query = query.where(AuditEvent.occurred_at >= local_day_start(filters["date_from"]))
    if filters["date_to"]:
        query = query.where(AuditEvent.occurred_at < local_day_start(filters["date_to"] + timedelta(days=1)))
    return query


@require("audit.view")
def audit_list():
    # Reading the trail is deliberately not itself audited: every page turn would add rows to what is being read,
    # burying the events that matter. Who may read it is controlled by the audit.view permission instead.
    filters = load_filters(AuditFilterArgs())
    page = db.paginate(_audit_query(filters), page=filters["page"], per_page=filters["per_page"], error_out=False)
    return render_template("admin/audit.html", page=page, filters=filters)


@require("audit.view")
def audit_verify():
    report = verify_chain()
    flash(report.message(), "success" if report.ok else "error")
    if report.ok and not report.checkpoint:
        flash(_("No checkpoint of the trail has been written yet, so rows deleted from its end could not be "
                "noticed; the next scheduled checkpoint writes one."), "info")
    return redirect(url_for("admin.audit_list"))


def compact_json(value) -> str:
    """Audit details as readable JSON (non-Latin names as they are, not \\u escapes); the template escapes it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
