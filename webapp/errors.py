"""Error pages for people and JSON errors for the API."""

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

_TITLES = {400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "File too large"}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app) -> None:
    def handle(error):
        code = getattr(error, "code", 500) or 500
        if _wants_json():
            return jsonify({"error": _TITLES.get(code, "Error"), "message": getattr(error, "description", "")}), code
        return render_template("error.html", code=code, title=_(_TITLES.get(code, "Error"))), code

    for code in _TITLES:
        app.register_error_handler(code, handle)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = _("The form expired or was not sent from this site. Reload the page and try again.")
        return render_template("error.html", code=400, title=_("Bad request"), message=message), 400
