"""`srsp certificate …`: issue a household's certificate as a PDF, verify one offline, rotate the signing key.

Exit codes: 0 done (verify: the certificate is valid); 1 verify: not valid (expired, revoked or invalid);
2 usage errors and a household without an active enrolment (with a message on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from webapp.boundary import unit_of_work


@click.group("certificate", help="Low-income certificates: issue, verify offline, rotate the signing key.")
def certificate_group():
    pass


@certificate_group.command("issue", help="Write the current (or a new) certificate of an application's household.")
@click.option("--application", "application_id", type=int, required=True, help="The application's id.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True, help="The PDF file.")
@click.option("--language", type=click.Choice(["uz", "ru"]), default="uz", show_default=True,
              help="The language printed first (the other follows).")
@with_appcontext
def issue_command(application_id, output, language):
    from modules.enrolment.certificates import operations
    from modules.registration.models import Application
    from webapp.boundary import Refusal
    from webapp.extensions import db

    try:
        with unit_of_work():
            application = db.session.get(Application, application_id)
            if application is None:
                raise click.UsageError(f"no application with id {application_id}")
            certificate = operations.current_or_issue(application.household, None, language)
            document = operations.pdf(certificate, language)
            serial = certificate.serial
    except Refusal as refusal:
        click.echo(f"Error: {refusal}", err=True)
        sys.exit(2)
    Path(output).write_bytes(document)
    click.echo(f"{serial} written to {output}", err=True)


@certificate_group.command("verify", help="Check a certificate PDF, a file with the QR code's text, or the text "
                           "itself, offline; prints one JSON object.")
@click.argument("source")
@click.option("--status-list", "status_list_file", type=click.Path(exists=True, dir_okay=False),
              help="A saved status list credential (from /credentials/status/N) to check revocation against.")
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False),
              help="A saved key set (from /.well-known/jwks.json); default: this installation's keys.")
@with_appcontext
def verify_command(source, status_list_file, jwks_file):
    from modules.enrolment.certificates import credential, keys, operations

    path = Path(source)
    text = operations.read_input(path.read_bytes()) if _is_file(path) else source
    if jwks_file:
        try:
            document = json.loads(Path(jwks_file).read_text())
        except ValueError as error:
            raise click.UsageError(f"{jwks_file} is not a JSON key set ({error})") from None
    else:
        with unit_of_work():
            document = keys.jwks()
    lists = {"*": Path(status_list_file).read_text()} if status_list_file else None
    if lists is None:
        click.echo("note: no --status-list given, so revocation was not checked", err=True)
    result = credential.verify(text, document, lists)
    click.echo(json.dumps(result.contract()))
    sys.exit(0 if result.valid else 1)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a pasted token is too long to be a file name
        return False


@certificate_group.command("rotate-key", help="Retire the signing key and start a new one (old keys stay published).")
@with_appcontext
def rotate_key_command():
    from modules.enrolment.certificates import keys

    with unit_of_work():
        row = keys.rotate()
        kid = row.kid
    click.echo(f"new signing key {kid}")


def register_commands(app) -> None:
    app.cli.add_command(certificate_group)
