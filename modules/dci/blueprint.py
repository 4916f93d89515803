"""URL map of the DCI registry server: the Social Registry, the ID & Beneficiary Registry and the token endpoint.

Called by other systems with bearer tokens and message signatures, never with cookies: the app exempts `bp` from
CSRF protection.
"""

from flask import Blueprint

from modules.dci import controllers, events  # noqa: F401  (events: notifies subscribers)

bp = Blueprint("dci", __name__)
bp.add_url_rule("/dci/oauth2/client/token", "token", controllers.token, methods=["POST"])
for _registry in ("social", "ibr"):
    for _endpoint in (controllers.SYNC_SEARCH, controllers.SEARCH, controllers.SUBSCRIBE, controllers.UNSUBSCRIBE,
                      controllers.TXN_STATUS, controllers.SYNC_TXN_STATUS):
        _view = controllers.registry_view(_registry, _endpoint)
        bp.add_url_rule(f"/dci/{_registry}{_endpoint}", _view.__name__, _view, methods=["POST"])
_enrolled = controllers.registry_view("ibr", controllers.SYNC_ENROLLED)
bp.add_url_rule(f"/dci/ibr{controllers.SYNC_ENROLLED}", _enrolled.__name__, _enrolled, methods=["POST"])


@bp.errorhandler(500)
def _failed(_error):
    """Even a fault here answers in the spec's error shape (the fault itself is logged by Flask)."""
    from modules.dci.messages import DciError, error_response

    return error_response(DciError("err.service.unavailable", "internal error", status=500))
