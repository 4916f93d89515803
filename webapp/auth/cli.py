"""`srsp users`: staff accounts and API tokens from the command line."""

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from webapp.boundary import command_boundary
from webapp.extensions import db
from webapp.models import Role


@click.group(help="Staff accounts.")
def users():
    pass


@users.command("create", help="Create a staff account.")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "full_name", required=True)
@click.option("--area", "areas_", multiple=True, help="Area code in scope (repeatable), e.g. UZ-TK.")
@click.option("--national", is_flag=True, help="National scope: every area.")
@click.password_option()
@with_appcontext
@command_boundary
def users_create(username, role, full_name, areas_, national, password):
    from webapp.auth.operations import create_user

    try:
        create_user(username, password, role, full_name, areas_, national_scope=national)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Created {username} ({role}).")


@users.command("token", help="Issue an API token for a user (machine client; printed once), list a user's tokens "
                              "with --list, or revoke one with --revoke NAME-OR-ID.")
@click.argument("username", required=False)
@click.option("--name", default="api", show_default=True, help="What the token is for, e.g. the client's name.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Lifetime in days (default: SRSP_API_TOKEN_DAYS).")
@click.option("--list", "list_", is_flag=True, help="List the user's tokens.")
@click.option("--revoke", metavar="NAME-OR-ID", default=None,
              help="Revoke a token by its id, or by its name (of USERNAME's tokens when given).")
@with_appcontext
@command_boundary
def users_token(username, name, days, list_, revoke):
    from webapp.auth.operations import issue_token

    user = _user(username) if username else None
    if revoke is not None:
        _revoke(revoke, user)
    elif user is None:
        raise click.UsageError("give a USERNAME (or --revoke NAME-OR-ID)")
    elif list_:
        _list(user)
    elif not name.strip() or len(name) > 80:
        raise click.UsageError("--name: 1 to 80 characters")
    else:
        click.echo(issue_token(user, name.strip(), days=days))


def _user(username: str):
    from webapp.models import User

    user = db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is None:
        raise click.UsageError(f"no user {username!r}")
    return user


def _list(user) -> None:
    from webapp.auth.operations import token_state, tokens_of

    for api_token in tokens_of(user):
        last_used = api_token.last_used_at.isoformat(timespec="minutes") if api_token.last_used_at else "never"
        click.echo(f"{api_token.id}\t{api_token.name}\t{token_state(api_token)}\t"
                   f"created {api_token.created_at.isoformat(timespec='minutes')}\t"
                   f"expires {api_token.expires_at.isoformat(timespec='minutes')}\tlast used {last_used}")


def _revoke(name_or_id: str, user) -> None:
    """Revoke the token with this id, or the live tokens with this name (one user's, unless the name is unique)."""
    from webapp.auth.operations import revoke_token
    from webapp.models import ApiToken

    query = select(ApiToken).where(ApiToken.name == name_or_id, ApiToken.revoked_at.is_(None))
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    found = list(db.session.scalars(query.order_by(ApiToken.id)))
    if not found and name_or_id.isascii() and name_or_id.isdigit():
        by_id = db.session.get(ApiToken, int(name_or_id))
        found = [by_id] if by_id is not None and (user is None or by_id.user_id == user.id) else []
    if not found:
        raise click.UsageError(f"no token {name_or_id!r} to revoke" + (f" for {user.username}" if user else ""))
    owners = {api_token.user_id for api_token in found}
    if len(owners) > 1:
        ids = ", ".join(f"{api_token.id} ({api_token.user.username})" for api_token in found)
        raise click.UsageError(f"several users have a token named {name_or_id!r}: give USERNAME or one id: {ids}")
    for api_token in found:
        if revoke_token(api_token):
            click.echo(f"Revoked token {api_token.id} ({api_token.name}) of {api_token.user.username}.")
        else:
            click.echo(f"Token {api_token.id} ({api_token.name}) was already revoked.")


@users.command("authenticator-reset", help="Remove a user's authenticator (a lost phone) and lift any lock on code "
               "entry, in the name of an administrator; the user sets up a new one with their password.")
@click.argument("username")
@click.option("--by", "admin_name", required=True, help="The administrator doing it (recorded in the audit trail).")
@with_appcontext
@command_boundary
def users_authenticator_reset(username, admin_name):
    from webapp.auth.totp import reset_authenticator
    from webapp.boundary import Refusal
    from webapp.models import User

    user, admin = (db.session.scalar(select(User).where(func.lower(User.username) == name.lower()))
                   for name in (username, admin_name))
    if user is None or admin is None:
        raise click.UsageError(f"no user {username if user is None else admin_name!r}")
    try:
        reset_authenticator(user, admin)
    except Refusal as refusal:
        raise click.UsageError(str(refusal)) from None
    click.echo(f"The authenticator of {user.username} was reset.")
