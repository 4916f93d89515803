"""The `srsp` console script: the app's Flask CLI group, plus the commands of the `flask.commands` entry points."""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from webapp import ConfigError, create_app


def main() -> None:
    try:
        app = create_app()
    except ConfigError as error:
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)
    FlaskGroup(create_app=lambda: app, add_default_commands=True, help="SRSP: Single Registry for Social "
               "Protection.")(prog_name="srsp")
