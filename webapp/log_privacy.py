"""No personal identification numbers in the logs: every log line the application, the web server (werkzeug,
gunicorn) or a library writes has 14-digit numbers (the PIN format, see webapp/pin.py) masked.

Staff search is a GET with the PIN in the query string, and registry URLs carry PINs, so access logs would
otherwise hold them. SQL errors do not log bound values at all (SQLALCHEMY_ENGINE_OPTIONS hide_parameters).
"""

from __future__ import annotations

import logging
import re

# 14 digits not inside a longer run of digits (bank accounts have 20, amounts and ids fewer).
PIN_PATTERN = re.compile(r"(?<!\d)\d{14}(?!\d)")
MASK = "*" * 14
LOGGERS = ("", "werkzeug", "gunicorn", "gunicorn.error", "gunicorn.access", "flask.app", "webapp", "rq.worker",
           "sqlalchemy")


def mask_pins(text: str) -> str:
    return PIN_PATTERN.sub(MASK, text)


class PinMaskingFilter(logging.Filter):
    """Formats the record's message now and masks PINs in it, in the exception text and in the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pins_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        masked = mask_pins(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pins(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pins(record.stack_info)
        record._pins_masked = True
        return True


_FILTER = PinMaskingFilter()


def _add(target) -> None:
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)


def install(app=None) -> None:
    """Mask PINs in every record: the filter on the root, web-server and application loggers and their handlers,
    and in the record factory for loggers and handlers made later (a module's own logger, gunicorn's handlers)."""
    names = list(LOGGERS) + ([app.logger.name] if app is not None else [])
    for name in names:
        logger = logging.getLogger(name)
        _add(logger)
        for handler in logger.handlers:
            _add(handler)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_masks_pins", False):
        def masking_factory(*args, **kwargs):
            record = factory(*args, **kwargs)
            _FILTER.filter(record)
            return record

        masking_factory._masks_pins = True
        logging.setLogRecordFactory(masking_factory)
