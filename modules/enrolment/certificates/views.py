"""Certificate pages: the public check (/verify), the issuer's key set and status lists, and the staff's PDF."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from modules.enrolment.certificates import keys, operations, status_list
from modules.enrolment.certificates.credential import issuer
from webapp.auth.limits import limiter
from webapp.auth.permissions import require

bp = Blueprint("certificates", __name__, template_folder="../templates")

# Verifiers cache the key set and the lists; a revocation shows within the lists' max-age.
KEYS_MAX_AGE = 3600


def jwks():
    """One key set for everything SRSP signs: certificates, and DCI messages (its registries' answers)."""
    from modules.dci.messages import keyring

    document = keys.jwks()
    response = jsonify({"keys": [*document["keys"], keyring().jwk()]})
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={KEYS_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def status(list_id: int):
    if not 1 <= list_id <= status_list.lists_in_use():
        abort(404)
    base = operations.base_url()
    token = status_list.credential(list_id, base, issuer(base))
    response = Response(token, mimetype="application/vc+jwt")
    response.headers["Cache-Control"] = f"public, max-age={status_list.TTL_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@limiter.limit("60 per minute", methods=["POST"])
def verify():
    result = None
    if request.method == "POST":
        upload = request.files.get("file")
        text = request.form.get("credential", "")
        if upload is not None and upload.filename:
            text = operations.read_input(upload.read(operations.MAX_UPLOAD + 1)[:operations.MAX_UPLOAD])
        result = operations.verify_here(text)
    return render_template("enrolment/certificate_verify.html", result=result, programme_name=_programme_name,
                           day=_day)


def _programme_name(item: dict) -> str:
    names = item.get("name") if isinstance(item, dict) else None
    if not isinstance(names, dict):
        return str(item.get("code", "")) if isinstance(item, dict) else ""
    return str(names.get(str(get_locale())) or names.get("uz") or item.get("code", ""))


def _day(value: str | None) -> str:
    """An ISO date as people there write it (05.12.2026)."""
    if not value:
        return "—"
    year, month, day = value.split("-")
    return f"{day}.{month}.{year}"


@require("application.view")
def application_pdf(application_id: int):
    from modules.registration.operations import get_application

    application = get_application(current_user, application_id)
    if application is None:
        abort(404)  # out of scope looks exactly like missing
    language = request.args.get("language") or str(get_locale())
    language = language if language in operations.LANGUAGES else "uz"
    certificate, document = operations.download(application.household, language, current_user)
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{certificate.serial}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


bp.add_url_rule("/.well-known/jwks.json", "jwks", jwks)
bp.add_url_rule("/credentials/status/<int:list_id>", "status_list", status)
bp.add_url_rule("/verify", "verify", verify, methods=["GET", "POST"])
bp.add_url_rule("/applications/<int:application_id>/certificate.pdf", "application_pdf", application_pdf)
