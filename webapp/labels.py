"""Words that templates translate from data (`_(status.value)`): marked here so that extraction finds them."""

from flask_babel import lazy_gettext as _l

ENUM_LABELS = [
    # application statuses
    _l("draft"), _l("submitted"), _l("collecting"), _l("collected"), _l("manual_verification"), _l("assessed"),
    _l("decided"), _l("withdrawn"),
    # relations
    _l("head"), _l("spouse"), _l("child"), _l("parent"), _l("other"),
    # channels
    _l("office"), _l("mahalla"), _l("single_window"), _l("portal"),
    # roles
    _l("admin"), _l("registrar"), _l("mahalla_worker"), _l("social_worker"), _l("finance_maker"),
    _l("finance_checker"), _l("analyst"), _l("auditor"),
    # job statuses
    _l("queued"), _l("running"), _l("finished"), _l("failed"),
    # error page titles
    _l("Bad request"), _l("Sign-in required"), _l("Not allowed"), _l("Not found"), _l("Method not allowed"),
    _l("Conflict"), _l("Error"),
]
