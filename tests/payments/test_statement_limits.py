"""Bank files whose values do not fit where they are kept: refused with the row or element and the field named,
nothing stored, never an error page; page numbers on the statement pages are bounded."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from modules.payments import reconciliation, statement_controllers
from modules.payments.models import LineStatus, StatementException, StatementImport
from modules.payments.statements import StatementError, read_camt, read_csv, read_pain002
from tests import factories
from tests.factories import PAYMENT_AMOUNT as AMOUNT
from tests.factories import camt054, statement_csv
from tests.factories import page_text as _text
from tests.factories import payroll_lines as _lines
from tests.factories import sent_payroll as _sent_payroll
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db
from webapp.models.audit import AuditEvent

CSV_HEADER = "end_to_end_id,amount,currency,status,booking_date,reason_code,reason_text\n"
LONG_CODE = "R" * 60


@pytest.fixture
def officer(app):
    return factories.make_user("finance_maker", national=True)


def _upload(client, data: bytes, name: str = "bank.csv"):
    return client.post("/statements", data={"file": (io.BytesIO(data), name), "csrf_token": client.csrf},
                       content_type="multipart/form-data")


def _stored() -> tuple[int, int, int]:
    db.session.rollback()  # what the request did not commit is gone
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (StatementImport, StatementException, AuditEvent))


def _refused_through_the_page(app, officer, payroll, data: bytes, name: str, *expected: str) -> None:
    """Upload `data`: the page refuses it with all of `expected` in its message, and nothing is stored."""
    client = _client(app, officer)
    before = _stored()

    response = _upload(client, data, name)

    assert response.status_code == 302 and response.headers["Location"].endswith("/statements")
    page = _text(client.get(response.headers["Location"]))
    assert f"The file was not imported: {name}: " in page
    for part in expected:
        assert part in page
    assert _stored() == before
    assert [line.status for line in _lines(payroll)] == [LineStatus.included]


# --- amounts -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("matched", [True, False], ids=["our-line", "unknown-line"])
def test_a_csv_amount_too_large_for_the_column_refuses_the_file_naming_row_and_column(app, officer, matched):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    e2e = line.end_to_end_id if matched else "SRSP-NOT-OURS-1"
    data = (CSV_HEADER + f"{e2e},1e20,UZS,paid,2026-01-28,,\n").encode()
    client = _client(app, officer)
    before = _stored()

    response = _upload(client, data, "big-amount.csv")

    page = _text(client.get(response.headers["Location"]))
    assert ("The file was not imported: big-amount.csv: CSV row 2, column amount: the amount 1e20 does not fit: "
            "at most 14 digits before the decimal point and 2 after it.") in page
    assert _stored() == before and [x.status for x in _lines(payroll)] == [LineStatus.included]


@pytest.mark.parametrize("raw", ["1e20", "99999999999999999999", "100000000000000", "12.345", "1e-9999"])
def test_csv_amounts_that_do_not_fit_are_refused(raw):
    with pytest.raises(StatementError, match=r"CSV row 3, column amount: the amount .* does not fit"):
        read_csv((CSV_HEADER + f"SRSP-1,1,UZS,paid,,,\nSRSP-2,{raw},UZS,paid,,,\n").encode())


@pytest.mark.parametrize("raw", ["99999999999999.99", "12.30", "12.300", "0"])
def test_csv_amounts_that_fit_are_read(raw):
    [entry] = read_csv((CSV_HEADER + f"SRSP-1,{raw},UZS,paid,,,\n").encode()).entries
    assert entry.amount == Decimal(raw)


def test_a_camt_amount_too_large_is_refused_naming_the_element():
    with pytest.raises(StatementError, match=r"Ntfctn\[1\]/Ntry\[1\]/Amt: the amount 1E\+20 does not fit"):
        read_camt(camt054([("SRSP-1", "1E+20", "paid")]))


# --- currencies ----------------------------------------------------------------------------------------------------

def test_a_camt054_currency_of_four_letters_refuses_the_file_naming_the_element(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    data = camt054([(line.end_to_end_id, AMOUNT, "paid")]).replace(b'Ccy="UZS"', b'Ccy="ABCD"')
    _refused_through_the_page(app, officer, payroll, data, "ntf.xml",
                              "Ntfctn[1]/Ntry[1]/Amt/@Ccy: ABCD is not a currency code (3 letters, for example UZS).")


@pytest.mark.parametrize("ccy", ["US", "12A", "UZSS", "ÜZS"])
def test_camt_currencies_must_be_three_letters(ccy):
    data = camt054([("SRSP-1", AMOUNT, "paid")]).replace(b'Ccy="UZS"', f'Ccy="{ccy}"'.encode())
    with pytest.raises(StatementError, match="is not a currency code"):
        read_camt(data)


def test_the_account_currency_of_a_camt_must_be_three_letters():
    data = camt054([("SRSP-1", AMOUNT, "paid")]).replace(b"<Ccy>UZS</Ccy>", b"<Ccy>SOMS</Ccy>")
    with pytest.raises(StatementError, match=r"Ntfctn\[1\]/Acct/Ccy: SOMS is not a currency code"):
        read_camt(data)


def test_a_pain002_amount_currency_must_be_three_letters():
    data = (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        b"<GrpHdr><MsgId>S-1</MsgId></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>P-1</OrgnlMsgId></OrgnlGrpInfAndSts>"
        b"<OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>SRSP-1</OrgnlEndToEndId><TxSts>ACSC</TxSts>"
        b'<OrgnlTxRef><Amt><InstdAmt Ccy="UZSX">5</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts></OrgnlPmtInfAndSts>'
        b"</CstmrPmtStsRpt></Document>")
    with pytest.raises(StatementError, match=r"TxInfAndSts\[1\]/OrgnlTxRef/Amt/InstdAmt/@Ccy: UZSX is not"):
        read_pain002(data)


# --- reason codes and references -----------------------------------------------------------------------------------

def test_a_csv_reason_code_of_sixty_characters_refuses_the_file(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    data = (CSV_HEADER + f"{line.end_to_end_id},{AMOUNT},UZS,failed,2026-01-28,{LONG_CODE},closed\n").encode()
    _refused_through_the_page(app, officer, payroll, data, "codes.csv",
                              f"CSV row 2, column reason_code: the reason code {LONG_CODE[:40]}… is longer than "
                              "35 characters.")


def test_a_camt_return_reason_code_of_sixty_characters_is_refused():
    data = camt054([("SRSP-1", AMOUNT, "returned")]).replace(b"<Cd>AC04</Cd>", f"<Cd>{LONG_CODE}</Cd>".encode())
    with pytest.raises(StatementError, match=r"Ntfctn\[1\]/Ntry\[1\]/TxDtls\[1\]/RtrInf/Rsn/Cd: the reason code"):
        read_camt(data)


def test_a_reference_longer_than_the_column_is_refused():
    e2e = "SRSP-" + "9" * 31  # 36 characters: ISO 20022 allows 35
    with pytest.raises(StatementError, match=r"CSV row 2, column end_to_end_id: the reference .* longer than 35"):
        read_csv(statement_csv([(e2e, AMOUNT, "paid")]))
    with pytest.raises(StatementError, match=r"TxDtls\[1\]/Refs/EndToEndId: the reference .* longer than 35"):
        read_camt(camt054([(e2e, AMOUNT, "paid")]))


def test_a_long_reason_text_is_kept_shortened_not_refused():
    [entry] = read_csv((CSV_HEADER + f"SRSP-1,5,UZS,failed,,AC04,{'x' * 900}\n").encode()).entries
    assert entry.reason_text == "x" * 500


# --- control characters and cells the csv module cannot read --------------------------------------------------------

def test_a_nul_byte_in_a_csv_cell_refuses_the_file(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    data = (CSV_HEADER + f"{line.end_to_end_id},{AMOUNT},UZS,failed,2026-01-28,AC04,closed\x00by bank\n").encode()
    _refused_through_the_page(app, officer, payroll, data, "nul.csv",
                              "CSV row 2, column reason_text: the value closed?by bank contains a control character")


def test_a_csv_cell_over_the_csv_readers_size_limit_is_refused_not_an_error():
    with pytest.raises(StatementError, match="CSV row 2: field larger than field limit"):
        read_csv((CSV_HEADER + f"SRSP-1,5,UZS,failed,,AC04,{'x' * 200_000}\n").encode())


def test_a_file_name_with_a_nul_byte_never_reaches_the_database(app, officer):
    payroll, (line,) = _sent_payroll(children=1)
    db.session.commit()
    data = statement_csv([(line.end_to_end_id, AMOUNT, "paid")])
    # The request guard refuses the name before the page runs...
    client = _client(app, officer)
    before = _stored()
    assert _upload(client, data, "bank\x00.csv").status_code == 400
    assert _stored() == before
    # ...and the page itself refuses it too, should the guard ever let it through.
    with (app.test_request_context("/statements", method="POST", content_type="multipart/form-data",
                                   data={"file": (io.BytesIO(data), "bank\x00.csv")}),
          pytest.raises(reconciliation.ReconciliationError, match="file name contains characters")):
        statement_controllers._upload()


# --- page numbers --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["99999999999999999999", "1e20", "-3", "x", "2147483648"])
def test_statement_pages_take_any_page_number_without_an_error(app, officer, page):
    record = reconciliation.import_statement(statement_csv([("SRSP-NOT-OURS-1", AMOUNT, "paid")]), "a.csv", officer)
    db.session.commit()
    client = _client(app, officer)
    for address in (f"/statements/{record.id}", "/statements", "/statements/exceptions"):
        response = client.get(f"{address}?page={page}")
        assert response.status_code == 200, address
