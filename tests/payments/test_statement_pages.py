"""Reconciliation pages: uploading a bank file (summary, repeat, refusals), one import's page, resolving exceptions,
the open exceptions list, returns to the budget, and who may see and do what."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from modules.payments import reconciliation, statement_controllers
from modules.payments.models import (
    ExceptionKind,
    LineStatus,
    Payroll,
    PayrollStatus,
    StatementException,
    StatementImport,
)
from tests import factories
from tests.factories import PAYMENT_AMOUNT as AMOUNT
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import camt054 as _camt054
from tests.factories import page_text as _text
from tests.factories import payroll_lines as _lines
from tests.factories import sent_payroll as _sent_payroll
from tests.factories import statement_csv as _csv
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db
from webapp.models.audit import AuditEvent


@pytest.fixture
def officer(app):
    return factories.make_user("finance_maker", national=True)


def _upload(client, data: bytes, name: str = "ntf.xml"):
    return client.post("/statements", data={"file": (io.BytesIO(data), name), "csrf_token": client.csrf},
                       content_type="multipart/form-data")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _committed() -> None:
    """Forget what the last request did not commit (in tests its session outlives the request)."""
    db.session.rollback()


def _statuses(payroll) -> list[LineStatus]:
    _committed()
    return [line.status for line in _lines(payroll)]


def _payroll_status(payroll) -> PayrollStatus:
    _committed()
    return db.session.get(Payroll, payroll.id).status


def _dd(page: str, key: str) -> str:
    return re.search(rf'<dd id="{key}">(.*?)</dd>', page, re.S).group(1).strip()


def _unmatched_import(officer, e2e: str = "SRSP-NOT-OURS-1") -> StatementException:
    record = reconciliation.import_statement(_csv([(e2e, AMOUNT, "paid")]), f"{e2e}.csv", officer)
    db.session.commit()
    (exception,) = record.exceptions
    return exception


# --- upload ------------------------------------------------------------------------------------------------------

def test_uploading_a_camt054_settles_the_payroll_and_shows_the_summary(app, officer):
    payroll, (a, b, c) = _sent_payroll()
    db.session.commit()
    client = _client(app, officer)
    data = _camt054([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned"),
                     (c.end_to_end_id, AMOUNT, "paid")])

    response = _upload(client, data)

    _committed()
    record = db.session.scalar(select(StatementImport))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/statements/{record.id}")
    assert _statuses(payroll) == [LineStatus.paid, LineStatus.returned, LineStatus.paid]
    assert _payroll_status(payroll) is PayrollStatus.reconciled
    assert (record.kind, record.filename, record.imported_by_id) == ("camt.054", "ntf.xml", officer.id)
    page = _text(client.get(response.headers["Location"]))
    assert "3 entries matched (2 paid, 0 failed, 1 returned), 0 exceptions, 0 pending." in page
    assert (_dd(page, "matched"), _dd(page, "paid"), _dd(page, "returned"), _dd(page, "failed")) == ("3", "2", "1", "0")
    assert 'class="bar bar-paid" style="width: 100.0%"' in page
    assert 'class="bar bar-returned" style="width: 50.0%"' in page
    payrolls = re.search(r'<table class="list" id="payrolls">(.*?)</table>', page, re.S).group(1)
    assert f'href="/payrolls/{payroll.id}"' in payrolls and "status-reconciled" in payrolls

    listing = _text(client.get("/statements"))
    assert f'href="/statements/{record.id}"' in listing and "ntf.xml" in listing and "NTF-T-1" in listing


def test_uploading_the_same_file_again_says_so_and_changes_nothing(app, officer):
    payroll, (a, b, _c) = _sent_payroll()
    db.session.commit()
    client = _client(app, officer)
    data = _camt054([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned"),
                     ("SRSP-UNKNOWN-1", AMOUNT, "paid")])
    first = _upload(client, data)
    before = (_statuses(payroll), _count(StatementImport), _count(StatementException), _count(AuditEvent))
    record = db.session.scalar(select(StatementImport))

    again = _upload(client, data, "renamed.xml")

    assert again.headers["Location"] == first.headers["Location"]
    page = _text(client.get(again.headers["Location"]))
    imported = re.search(r"already imported on (\d\d\.\d\d\.\d{4} \d\d:\d\d) \(as ntf\.xml\); nothing changed", page)
    assert imported is not None
    assert (_statuses(payroll), _count(StatementImport), _count(StatementException), _count(AuditEvent)) == before
    assert db.session.get(StatementImport, record.id).filename == "ntf.xml"


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<Document><nope/></Document>", "bad.xml", "The file was not imported: bad.xml: not an ISO 20022 document"),
    (b"end_to_end_id,amount\nX,1\n", "bad.csv", "The file was not imported: bad.csv: CSV row 1 (header)"),
    (b"", "empty.csv", "The file empty.csv is empty; nothing was imported."),
    (b"\x89PNG\r\n\x1a\n\x00\xff", "photo.png", "The file was not imported: photo.png: CSV: not UTF-8"),
])
def test_a_bad_file_is_refused_with_a_specific_message_and_nothing_is_stored(app, officer, data, name, message):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    client = _client(app, officer)
    before = (_count(StatementImport), _count(StatementException), _count(AuditEvent))

    response = _upload(client, data, name)

    assert response.headers["Location"].endswith("/statements")
    assert message in _text(client.get("/statements"))
    assert (_count(StatementImport), _count(StatementException), _count(AuditEvent)) == before
    assert _statuses(payroll) == [LineStatus.included]


def test_a_file_over_the_size_cap_is_refused(app, officer, monkeypatch):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    data = _csv([(line.end_to_end_id, AMOUNT, "paid")])
    monkeypatch.setattr(statement_controllers, "MAX_UPLOAD_BYTES", len(data) - 1)
    client = _client(app, officer)

    response = _upload(client, data, "big.csv")

    assert "The file big.csv is larger than" in _text(client.get(response.headers["Location"]))
    assert _count(StatementImport) == 0 and _statuses(payroll) == [LineStatus.included]


def test_an_upload_without_a_file_is_refused(app, officer):
    client = _client(app, officer)
    response = client.post("/statements", data={"csrf_token": client.csrf}, content_type="multipart/form-data",
                           follow_redirects=True)
    assert "Choose a bank file to upload" in _text(response) and _count(StatementImport) == 0


def test_an_upload_without_the_csrf_token_is_refused(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    client = _client(app, officer)
    response = client.post("/statements", data={"file": (io.BytesIO(_csv([(line.end_to_end_id, AMOUNT, "paid")])),
                                                          "x.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400 and _count(StatementImport) == 0


# --- exceptions --------------------------------------------------------------------------------------------------

def test_resolving_an_exception_needs_a_note(app, officer):
    exception = _unmatched_import(officer)
    client = _client(app, officer)
    page = _text(client.get(f"/statements/{exception.import_id}"))
    assert "SRSP-NOT-OURS-1" in page and f'action="/statements/exceptions/{exception.id}/resolve"' in page

    refused = client.post(f"/statements/exceptions/{exception.id}/resolve",
                          data={"note": "   ", "csrf_token": client.csrf}, follow_redirects=True)
    assert "Nothing changed: a resolution note is required." in _text(refused)
    missing = client.post(f"/statements/exceptions/{exception.id}/resolve", data={"csrf_token": client.csrf},
                          follow_redirects=True)
    assert "Nothing changed: a resolution note is required." in _text(missing)
    _committed()
    assert db.session.get(StatementException, exception.id).resolved_at is None
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "statement.exception_resolved")) == 0

    done = client.post(f"/statements/exceptions/{exception.id}/resolve",
                       data={"note": "Another agency's payment; told the bank", "csrf_token": client.csrf},
                       follow_redirects=True)
    page = _text(done)
    assert f"Exception {exception.id} resolved." in page and "Another agency's payment; told the bank" in page
    _committed()
    resolved = db.session.get(StatementException, exception.id)
    assert resolved.resolved_by_id == officer.id and resolved.resolution == "Another agency's payment; told the bank"

    twice = client.post(f"/statements/exceptions/{exception.id}/resolve",
                        data={"note": "again", "csrf_token": client.csrf}, follow_redirects=True)
    assert "Nothing changed: this exception is already resolved." in _text(twice)
    assert db.session.get(StatementException, exception.id).resolution == "Another agency's payment; told the bank"


def test_a_note_that_is_too_long_is_refused(app, officer):
    exception = _unmatched_import(officer)
    client = _client(app, officer)
    response = client.post(f"/statements/exceptions/{exception.id}/resolve",
                           data={"note": "x" * 501, "csrf_token": client.csrf, "back": "exceptions"},
                           follow_redirects=True)
    assert "The note is too long" in _text(response)
    _committed()
    assert db.session.get(StatementException, exception.id).resolved_at is None


def test_the_open_exceptions_list_spans_imports_and_filters_by_kind(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    unmatched = _unmatched_import(officer, "SRSP-NOT-OURS-7")
    mismatch = reconciliation.import_statement(_csv([(line.end_to_end_id, Decimal("1.00"), "paid")]), "m.csv",
                                               officer).exceptions[0]
    solved = _unmatched_import(officer, "SRSP-NOT-OURS-8")
    reconciliation.resolve_exception(solved, "done", officer)
    db.session.commit()
    client = _client(app, officer)

    page = _text(client.get("/statements/exceptions"))
    rows = re.search(r'<table class="list" id="exception-list">(.*?)</table>', page, re.S).group(1)
    assert f'id="exception-{unmatched.id}"' in rows and f'id="exception-{mismatch.id}"' in rows
    assert f'id="exception-{solved.id}"' not in rows and "2 open exceptions" in page
    assert mismatch.kind is ExceptionKind.amount_mismatch
    mismatch_row = re.search(rf'<tr id="exception-{mismatch.id}">(.*?)</tr>', rows, re.S).group(1)
    assert "1.00\u00a0UZS" in mismatch_row and "line: 250\u00a0000.00\u00a0UZS, Included" in mismatch_row
    assert f'href="/payrolls/{payroll.id}"' in mismatch_row

    only = _text(client.get("/statements/exceptions?kind=amount_mismatch"))
    assert f'id="exception-{mismatch.id}"' in only and f'id="exception-{unmatched.id}"' not in only
    assert "not understood" in _text(client.get("/statements/exceptions?kind=nonsense"))
    assert "Open exceptions (2)" in _text(client.get("/payrolls"))

    client.post(f"/statements/exceptions/{unmatched.id}/resolve",
                data={"note": "refunded", "back": "exceptions", "csrf_token": client.csrf})
    _committed()
    after = _text(client.get("/statements/exceptions"))
    assert f'id="exception-{unmatched.id}"' not in after and "1 open exception" in after


# --- returns to the budget ---------------------------------------------------------------------------------------

def test_the_returns_page_shows_failed_returned_and_unpaid_lines(app, officer, monkeypatch):
    payroll, (a, b, c, _d) = _sent_payroll(children=4)
    reconciliation.import_statement(_csv([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "failed"),
                                          (c.end_to_end_id, AMOUNT, "returned")]), "out.csv")
    db.session.commit()
    client = _client(app, officer)

    monkeypatch.setattr(reconciliation, "local_today", lambda: date(2026, 2, 25))
    before = _text(client.get(f"/payrolls/returns?period={PERIOD}"))
    assert "25.02.2026" in before and "unpaid lines are not included" in before
    assert re.search(r'id="total-lines">2<', before) and re.search(r'id="total-amount">500 000.00<', before)

    monkeypatch.setattr(reconciliation, "local_today", lambda: date(2026, 2, 26))
    after = _text(client.get(f"/payrolls/returns?period={PERIOD}"))
    assert re.search(r'id="total-lines">3<', after) and re.search(r'id="total-amount">750 000.00<', after)
    row = re.search(r"<tbody>(.*?)</tbody>", after, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["1", "250 000.00", "1", "250 000.00", "1", "250 000.00", "3", "750 000.00"]

    assert "Nothing goes back to the budget for 2026-02" in _text(client.get("/payrolls/returns?period=2026-02"))


def test_the_return_is_recorded_once_after_the_deadline(app, officer, monkeypatch):
    payroll, (a, b, _c) = _sent_payroll(children=3)
    reconciliation.import_statement(_csv([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned")]),
                                    "out.csv")
    db.session.commit()
    client = _client(app, officer)
    monkeypatch.setattr(reconciliation, "local_today", lambda: date(2026, 2, 25))
    before = _text(client.get(f"/payrolls/returns?period={PERIOD}"))
    assert "Record " not in before and "recorded after the deadline" in before
    early = _text(client.post("/payrolls/returns", data={"period": PERIOD, "csrf_token": client.csrf},
                              follow_redirects=True))
    assert "Nothing was recorded: returns for 2026-01 are recorded after 25.02.2026" in early
    assert reconciliation.recorded_returns(PERIOD) == []

    monkeypatch.setattr(reconciliation, "local_today", lambda: date(2026, 2, 26))
    assert "Record 500 000.00 UZS for return to the budget" in _text(client.get(f"/payrolls/returns?period={PERIOD}"))
    done = _text(client.post("/payrolls/returns", data={"period": PERIOD, "csrf_token": client.csrf},
                             follow_redirects=True))
    assert "Recorded for return to the budget: 1 programme and region." in done and "Record 500" not in done
    (record,) = reconciliation.recorded_returns(PERIOD)
    assert (record.lines, record.amount, record.recorded_by_id) == (2, 2 * AMOUNT, officer.id)
    assert record.by_status == {"returned": {"lines": 1, "amount": "250000.00"},
                                "unpaid": {"lines": 1, "amount": "250000.00"}}
    again = _text(client.post("/payrolls/returns", data={"period": PERIOD, "csrf_token": client.csrf},
                              follow_redirects=True))
    assert "was recorded already; nothing changed" in again and len(reconciliation.recorded_returns(PERIOD)) == 1


@pytest.mark.parametrize("period", ["2026-13", "January", "2026-1"])
def test_a_bad_month_on_the_returns_page_gets_a_clear_message(app, officer, period):
    page = _text(_client(app, officer).get(f"/payrolls/returns?period={period}"))
    assert f"{period} is not a month: give it as YYYY-MM" in page and 'id="returns"' not in page


# --- permissions -------------------------------------------------------------------------------------------------

def test_a_registrar_cannot_see_statements_and_has_no_link(app, officer):
    exception = _unmatched_import(officer)
    client = _client(app, factories.make_user("registrar", areas=["UZ-TK"]))
    for path in ("/statements", f"/statements/{exception.import_id}", "/statements/exceptions",
                 f"/payrolls/returns?period={PERIOD}"):
        assert client.get(path).status_code == 403, path
    assert _upload(client, _csv([("SRSP-X-1", AMOUNT, "paid")]), "x.csv").status_code == 403
    assert client.post(f"/statements/exceptions/{exception.id}/resolve",
                       data={"note": "x", "csrf_token": client.csrf}).status_code == 403
    assert "/statements" not in _text(client.get("/applications"))


def test_an_auditor_can_view_but_not_upload_or_resolve(app, officer):
    exception = _unmatched_import(officer)
    imports = _count(StatementImport)
    client = _client(app, factories.make_user("auditor", national=True))

    listing = _text(client.get("/statements"))
    assert 'href="/statements"' in listing and f'href="/statements/{exception.import_id}"' in listing
    assert 'type="file"' not in listing
    detail = _text(client.get(f"/statements/{exception.import_id}"))
    assert "SRSP-NOT-OURS-1" in detail and "/resolve" not in detail
    assert client.get("/statements/exceptions").status_code == 200
    assert client.get(f"/payrolls/returns?period={PERIOD}").status_code == 200

    assert _upload(client, _csv([("SRSP-X-2", AMOUNT, "paid")]), "x.csv").status_code == 403
    assert client.post(f"/statements/exceptions/{exception.id}/resolve",
                       data={"note": "x", "csrf_token": client.csrf}).status_code == 403
    _committed()
    assert _count(StatementImport) == imports and db.session.get(StatementException, exception.id).resolved_at is None


def test_a_missing_import_or_exception_is_not_found(app, officer):
    client = _client(app, officer)
    assert client.get("/statements/999999").status_code == 404
    assert client.post("/statements/exceptions/999999/resolve",
                       data={"note": "x", "csrf_token": client.csrf}).status_code == 404


def test_an_upload_over_the_request_limit_is_refused_before_it_is_read(app):
    client = _client(app, factories.make_user("finance_maker", national=True))
    big = io.BytesIO(b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = client.post("/statements", data={"csrf_token": client.csrf, "file": (big, "huge.xml")},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "File too large" in _text(response)
    assert db.session.scalar(select(func.count()).select_from(StatementImport)) == 0
