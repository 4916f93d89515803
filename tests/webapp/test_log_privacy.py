"""No PINs in the logs: every log line (the application's, werkzeug's and gunicorn's access lines, tracebacks)
has 14-digit numbers masked, and SQL errors never carry the values bound to the statement."""

import io
import logging

import pytest
from sqlalchemy.exc import IntegrityError

from tests import factories
from webapp import log_privacy
from webapp.extensions import db

PIN = "31204851234567"


@pytest.fixture
def captured(app):
    """What a plain handler on the root logger writes (as a server's log file would get it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_pin_in_an_application_log_line_is_masked(captured):
    logging.getLogger("modules.registration.operations").warning("registry refused %s for %s", PIN, "UZ-TK")
    text = captured.getvalue()
    assert PIN not in text and "registry refused ************** for UZ-TK" in text


def test_a_pin_in_a_werkzeug_access_line_is_masked(captured):
    logging.getLogger("werkzeug").info('%s - - [%s] "%s" %s %s', "127.0.0.1", "05/Dec/2026 09:00:00",
                                       f"GET /applications?q={PIN}&page=2 HTTP/1.1", "200", "-")
    text = captured.getvalue()
    assert PIN not in text and '"GET /applications?q=**************&page=2 HTTP/1.1" 200' in text


def test_a_pin_in_a_gunicorn_access_line_is_masked(captured):
    atoms = {"h": "10.0.0.5", "r": f"GET /api/v1/persons/{PIN} HTTP/1.1", "s": "200"}
    logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s', atoms)
    text = captured.getvalue()
    assert PIN not in text and '10.0.0.5 "GET /api/v1/persons/************** HTTP/1.1" 200' in text


def test_a_pin_in_a_traceback_is_masked(captured):
    try:
        raise ValueError(f"no person with PIN {PIN}")
    except ValueError:
        logging.getLogger("webapp").exception("collection failed")
    text = captured.getvalue()
    assert "collection failed" in text and "ValueError: no person with PIN **************" in text
    assert PIN not in text


def test_a_handler_that_got_a_record_from_elsewhere_masks_it_too():
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, "bad request line %r", (PIN,), None)
    assert log_privacy.PinMaskingFilter().filter(record)
    assert record.getMessage() == "bad request line '**************'"


@pytest.mark.parametrize(("text", "masked"), [
    (f"pin={PIN}", "pin=**************"),
    ("account 20208000900100001001", "account 20208000900100001001"),  # 20 digits: a bank account, not a PIN
    ("amount 1234567", "amount 1234567"),
    (f"{PIN},{PIN}", "**************,**************"),
])
def test_only_fourteen_digit_numbers_are_masked(text, masked):
    assert log_privacy.mask_pins(text) == masked


def test_an_sql_error_does_not_carry_the_bound_values(app, captured):
    person = factories.make_person("UZ-TK")
    with pytest.raises(IntegrityError) as raised, db.session.begin_nested():
        factories.make_person("UZ-TK", pin=person.pin, first_name="Zulfiyaxon", phone="+998901112233")
    message = str(raised.value)
    assert "parameters hidden" in message
    assert "Zulfiyaxon" not in message and "+998901112233" not in message
    # PostgreSQL itself names the duplicate key in its detail line; the log masks it there.
    logging.getLogger("webapp").error("saving failed", exc_info=raised.value)
    assert "saving failed" in captured.getvalue() and person.pin not in captured.getvalue()
