"""`srsp dci clients create`: register a system that may query the DCI registries (Social, ID & Beneficiary).

Exit codes: 0 done (one JSON object on stdout: `client_id`, `client_secret` -- shown once, only a hash is kept --
and the policy); 2 usage errors (a name already taken, an unreadable key set), with a message on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.boundary import unit_of_work

QUERY_TYPES = ("idtype-value", "expression", "predicate")


@click.group("dci", help="The DCI registry server (Social Registry, ID & Beneficiary Registry).")
def dci_group():
    pass


@dci_group.group("clients", help="Systems allowed to query the registries.")
def clients_group():
    pass


def _fail(message: str):
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _read_jwks(path: str) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the key set {path}: {exc}")
    if isinstance(document, dict) and "keys" not in document and document.get("kty"):
        document = {"keys": [document]}  # a lone JWK
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or any(not isinstance(k, dict) or "d" in k for k in keys):
        _fail(f"{path} is not a public JWK or JWK Set (private keys are refused)")
    return document


@clients_group.command("create", help=(
    "Register a sender and print its client id and secret as JSON. It exchanges them at POST "
    "/dci/oauth2/client/token for a bearer token. Its message signatures are checked against its own key set: "
    "--jwk FILE (a public Ed25519 JWK or JWK Set, stored) or --jwks-url URL (fetched when needed). "
    "--signatures required (default): every message signed; optional: unsigned accepted, a present signature "
    "must verify; none: not checked (the transport signs, e.g. X-Road)."))
@click.argument("name")
@click.option("--signatures", type=click.Choice(["required", "optional", "none"]), default="required",
              show_default=True, help="How the sender's message signatures are checked.")
@click.option("--callback-url", "callback_urls", multiple=True,
              help="A URL async answers and notifications may be sent to (the request's sender_uri must be one).")
@click.option("--jwk", "jwk_file", type=click.Path(exists=True, dir_okay=False),
              help="The sender's public key(s): a JWK or JWK Set file.")
@click.option("--jwks-url", help="Where the sender publishes its JWK Set.")
@click.option("--field", "fields", multiple=True, help="A record field the sender may read and filter on "
              "(identifier, name, sex, birth_date, death_date, phone, address, household, enrolment); "
              "default: name, sex, birth_date, address.")
@click.option("--query-type", "query_types", multiple=True, type=click.Choice(QUERY_TYPES),
              help="A query type the sender may use; default: all three.")
@click.option("--purpose", help="The purpose the sender declared (recorded with every query it makes).")
@click.option("--rate-limit", default="60 per minute", show_default=True, help="Requests allowed per sender.")
@with_appcontext
def create_command(name, signatures, callback_urls, jwk_file, jwks_url, fields, query_types, purpose, rate_limit):
    from limits import parse as parse_limit

    from modules.dci import auth, records
    from modules.dci.models import DciClient
    from webapp import audit
    from webapp.extensions import db

    unknown = sorted(set(fields) - set(records.FIELDS))
    if unknown:
        _fail(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(records.FIELDS)}")
    try:
        parse_limit(rate_limit)
    except ValueError:
        _fail(f"bad rate limit {rate_limit!r} (e.g. '60 per minute')")
    jwks = _read_jwks(jwk_file) if jwk_file else None
    with unit_of_work():
        if db.session.scalar(select(DciClient.id).where(DciClient.name == name)) is not None:
            _fail(f"a client named {name!r} exists")
        client, secret = auth.new_client(
            name, signatures=signatures, callback_urls=list(callback_urls),
            allowed_query_types=list(query_types or QUERY_TYPES),
            allowed_fields=list(fields or records.DEFAULT_FIELDS), purpose=purpose, rate_limit=rate_limit,
            jwks=jwks, jwks_url=jwks_url)
        audit.record("dci.client_created", "dci_client", client.id, {
            "name": name, "client_id": client.client_id, "signatures": signatures,
            "callback_urls": list(callback_urls), "fields": client.allowed_fields, "purpose": purpose})
        output = {"client_id": client.client_id, "client_secret": secret, "name": name, "signatures": signatures,
                  "callback_urls": client.callback_urls, "fields": client.allowed_fields,
                  "query_types": client.allowed_query_types, "rate_limit": rate_limit}
    click.echo(json.dumps(output))


def register_commands(app) -> None:
    app.cli.add_command(dci_group)
