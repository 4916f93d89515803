"""Error pages for people and JSON errors for the API, in the reader's language."""

from flask import jsonify, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from webapp.boundary import wants_json
from webapp.guard import InputRefused

_TITLES = {400: _l("Bad request"), 401: _l("Sign-in required"), 403: _l("Not allowed"), 404: _l("Not found"),
           405: _l("Method not allowed"), 409: _l("Conflict"), 413: _l("File too large"),
           429: _l("Too many requests"), 500: _l("Something went wrong")}
_EXPLANATIONS = {
    400: _l("The request could not be read."),
    401: _l("Sign in, or send an API token in the Authorization header."),
    403: _l("Your role does not allow this."),
    404: _l("There is nothing at this address, or it is outside your areas."),
    405: _l("This address does not accept this kind of request."),
    409: _l("The request conflicts with what was saved in the meantime; reload and try again."),
    413: _l("The file is too large."),
    429: _l("Too many requests in a short time. Wait a few minutes and try again."),
    500: _l("The error was recorded; nothing was saved. Try again later."),
}


def register_error_handlers(app) -> None:
    def handle(error):
        code = getattr(error, "code", 500) or 500
        title, explanation = _TITLES.get(code, _TITLES[500]), _EXPLANATIONS.get(code, _EXPLANATIONS[500])
        if isinstance(error, InputRefused):
            explanation = error.message
        if wants_json():
            return jsonify({"error": str(title), "message": str(explanation)}), code
        return render_template("error.html", code=code, title=title, message=explanation), code

    for code in _TITLES:
        app.register_error_handler(code, handle)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = _("The form expired or was not sent from this site. Reload the page and try again.")
        return render_template("error.html", code=400, title=_("Bad request"), message=message), 400
