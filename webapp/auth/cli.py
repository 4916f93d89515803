"""`srsp users`: staff accounts and API tokens from the command line."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

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


@users.command("token", help="Issue an API token for a user (machine client); printed once.")
@click.argument("username")
@click.option("--name", default="api", show_default=True)
@with_appcontext
@command_boundary
def users_token(username, name):
    from webapp.auth.operations import issue_token
    from webapp.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.UsageError(f"no user {username!r}")
    token = issue_token(user, name)
    click.echo(token)
