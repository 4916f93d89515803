"""Data collection per application, assessment, decisions, notices, recertification, simulation.

Reacts to `application_submitted` (webapp/signals.py): collection starts as soon as an application is submitted.
"""

import logging

from flask import current_app

from modules.means_test import notices  # noqa: F401  (connects the decision SMS to its signal)
from webapp import signals

logger = logging.getLogger(__name__)


@signals.application_submitted.connect
def _collect_on_submit(application, actor=None, **_extra):
    if current_app.config.get("COLLECT_ON_SUBMIT", True):
        from modules.means_test.operations import start_collection

        start_collection(application, actor)
