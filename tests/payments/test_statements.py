"""Bank statement and status-report readers: real samples, hand-written edge cases, and refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from modules.payments.statements import (
    StatementError,
    read_camt,
    read_csv,
    read_pain002,
    read_statement,
)

FIXTURES = Path(__file__).parent / "fixtures"
# The published schemas live beside the repository (../shared/standards); tests that need them skip without them.
STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "iso20022"
XSD = STANDARDS / "xsd"
needs_standards = pytest.mark.skipif(not XSD.is_dir(), reason="../shared/standards/iso20022 not available")
CSV_HEADER = "end_to_end_id,amount,currency,status,booking_date,reason_code,reason_text"


# Published samples are read where the standards folder keeps them, not copied into the repository.
PUBLISHED = {"camt.053.001.02.xml": "samples-tryton/camt.053.001.02.xml",
             "camt.054.001.02.xml": "samples-tryton/camt.054.001.02.xml",
             "camt052_001_02.xml": "example_files/gs_camt/camt052_001_02.xml",
             "camt053_001_02.xml": "example_files/gs_camt/camt053_001_02.xml"}


def fixture(name: str) -> bytes:
    """Raw bytes of a fixture file (ours in fixtures/, published ones from the standards folder)."""
    if name in PUBLISHED:
        path = STANDARDS / PUBLISHED[name]
        if not path.is_file():
            pytest.skip("../shared/standards/iso20022 not available")
        return path.read_bytes()
    return (FIXTURES / name).read_bytes()


def by_e2e(statement):
    """Entries keyed by end-to-end id (ids are unique in the hand-written fixtures)."""
    return {e.end_to_end_id: e for e in statement.entries if e.end_to_end_id}


# --- real-world samples ---------------------------------------------------------------------------------------


def test_tryton_camt053_with_lastpgind_yes_imports():
    raw = fixture("camt.053.001.02.xml")
    assert b"<LastPgInd>YES</LastPgInd>" in raw  # the quirk this test is about
    st = read_camt(raw)
    assert (st.kind, st.version, st.message_id) == ("camt.053", "001.02", "Example")
    assert st.created_at == datetime(2009, 5, 12)
    [entry] = st.entries
    assert entry.outcome == "paid"
    assert entry.amount == Decimal("100.00") and entry.currency == "EUR"
    assert entry.booking_date == date(2009, 4, 29)
    assert entry.end_to_end_id is None
    assert entry.account_servicer_ref == "Bank Reference"
    assert entry.source_line == "Stmt[1]/Ntry[1]/TxDtls[1]"


@needs_standards
def test_tryton_camt053_is_not_schema_valid_so_leniency_is_needed():
    schema = etree.XMLSchema(etree.parse(str(XSD / "cash_management/camt.053/camt.053.001.02.xsd")))
    assert not schema.validate(etree.fromstring(fixture("camt.053.001.02.xml")))


def test_tryton_camt054_incoming_credit_is_kept_aside_not_dropped():
    st = read_camt(fixture("camt.054.001.02.xml"))
    assert st.kind == "camt.054" and st.message_id == "AAAASESS-FP-00001"
    assert st.created_at == datetime(2010, 10, 18, 13, 20, tzinfo=timezone(timedelta(hours=1)))
    assert st.entries == ()
    [line] = st.unclassified
    assert line.end_to_end_id == "MUELL/FINP/RA12345"
    assert line.amount == Decimal("105678.50") and line.currency == "SEK"
    assert line.status == "CRDT"


def test_gs_camt053_every_transaction_is_accounted_for():
    st = read_camt(fixture("camt053_001_02.xml"))
    assert st.message_id == "235549650"
    n_tx = fixture("camt053_001_02.xml").count(b"<TxDtls>")
    assert len(st.entries) + len(st.pending) + len(st.unclassified) == n_tx
    returned = {e.end_to_end_id for e in st.entries if e.outcome == "returned"}
    assert {"GSWDEZOJDF", "GSKWTHM25VCGE5"} <= returned  # RvslInd=true credits
    r02 = by_e2e(st)["GSKWTHM25VCGE5"]
    assert r02.reason_code is None and r02.reason_text == "[R02]"  # proprietary code kept, not passed off as ISO
    assert r02.booking_date == date(2023, 10, 1)
    assert {e.outcome for e in st.entries if e.source_line.endswith("Ntry[2]/TxDtls[1]")} == {"paid"}


def test_camt052_intraday_report_is_refused_clearly():
    with pytest.raises(StatementError, match=r"camt\.052\.001\.02 is not a statement"):
        read_statement(fixture("camt052_001_02.xml"))
    with pytest.raises(StatementError, match="expected camt.053 or camt.054"):
        read_camt(fixture("camt052_001_02.xml"))


# --- hand-written camt.054 .001.08 ----------------------------------------------------------------------------

V08 = "srsp_camt054_v08_outcomes.xml"


@needs_standards
@pytest.mark.parametrize(
    ("name", "xsd"),
    [
        (V08, "cash_management/camt.054/camt.054.001.08.xsd"),
        ("srsp_pain002_v03_mixed.xml", "payments_initiation/pain.002/pain.002.001.03.xsd"),
        ("srsp_pain002_v10_file_rejected.xml", "payments_initiation/pain.002/pain.002.001.10.xsd"),
        ("srsp_pain002_v10_file_rejected_listed.xml", "payments_initiation/pain.002/pain.002.001.10.xsd"),
    ],
)
def test_hand_written_fixtures_are_schema_valid(name, xsd):
    schema = etree.XMLSchema(etree.parse(str(XSD / xsd)))
    assert schema.validate(etree.fromstring(fixture(name))), schema.error_log


def test_camt054_v08_paid():
    st = read_camt(fixture(V08))
    assert (st.kind, st.version, st.message_id) == ("camt.054", "001.08", "SRSP-NTF-2024-0001")
    paid = by_e2e(st)["SRSP-E2E-PAID-1"]
    assert paid.outcome == "paid" and paid.amount == Decimal("450000.00") and paid.currency == "UZS"
    assert paid.booking_date == date(2024, 3, 5) and paid.account_servicer_ref == "BANK-REF-1"
    assert paid.source_line == "Ntfctn[1]/Ntry[1]/TxDtls[1]"


def test_camt054_returned_with_reason_and_datetime_booking():
    ret = by_e2e(read_camt(fixture(V08)))["SRSP-E2E-RET-1"]
    assert ret.outcome == "returned"
    assert (ret.reason_code, ret.reason_text) == ("AC04", "Account closed")
    assert ret.booking_date == date(2024, 3, 6)
    assert ret.account_servicer_ref == "BANK-TX-2"  # the transaction's own reference wins over the entry's


def test_camt054_reversal_is_returned():
    rev = by_e2e(read_camt(fixture(V08)))["SRSP-E2E-REV-1"]
    assert rev.outcome == "returned" and rev.amount == Decimal("120000.00")


def test_camt054_pending_entry_is_listed_not_booked():
    st = read_camt(fixture(V08))
    assert "SRSP-E2E-PEND-1" not in by_e2e(st)
    [pend] = st.pending
    assert (pend.end_to_end_id, pend.status, pend.amount) == ("SRSP-E2E-PEND-1", "PDNG", Decimal("200000.00"))
    assert pend.source_line == "Ntfctn[1]/Ntry[4]/TxDtls[1]"


def test_camt054_notprovided_end_to_end_id_is_none():
    st = read_camt(fixture(V08))
    [line] = [e for e in st.entries if e.source_line == "Ntfctn[1]/Ntry[5]/TxDtls[1]"]
    assert line.end_to_end_id is None and line.account_servicer_ref == "BANK-TX-5"
    assert all(e.end_to_end_id != "NOTPROVIDED" for e in st.entries)


def test_camt054_batch_booking_gives_one_entry_per_transaction():
    st = read_camt(fixture(V08))
    batch = [e for e in st.entries if "/Ntry[6]/" in e.source_line]
    assert [(e.end_to_end_id, e.amount) for e in batch] == [
        ("SRSP-E2E-B-1", Decimal("100000.00")),
        ("SRSP-E2E-B-2", Decimal("200000.00")),
        ("SRSP-E2E-B-3", Decimal("300000.00")),
    ]
    assert {e.account_servicer_ref for e in batch} == {"BANK-BATCH-6"}


def test_camt054_entry_without_details_is_one_entry_with_the_bank_reference():
    [line] = [e for e in read_camt(fixture(V08)).entries if e.source_line == "Ntfctn[1]/Ntry[7]"]
    assert (line.end_to_end_id, line.amount, line.account_servicer_ref) == (None, Decimal("50000.00"), "BANK-REF-7")


def test_camt054_batch_without_amounts_marks_them_unknown():
    st = by_e2e(read_camt(fixture(V08)))
    for e2e in ("SRSP-E2E-C-1", "SRSP-E2E-C-2"):
        assert st[e2e].amount_known is False and st[e2e].amount == Decimal("0")
    assert st["SRSP-E2E-PAID-1"].amount_known is True


def test_camt054_nothing_dropped():
    raw = fixture(V08)
    st = read_camt(raw)
    lines = len(st.entries) + len(st.pending) + len(st.unclassified)
    assert lines == raw.count(b"<TxDtls>") + 1  # + Ntry[7], which has no TxDtls


def camt(body: str, *, msg: str = "camt.054", version: str = "001.02", last_page: str = "NO") -> bytes:
    """A minimal camt document around `body` (the Ntry elements)."""
    root, report = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}[msg]
    return (
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{msg}.{version}"><{root}>'
        f"<GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-01-02T03:04:05.123</CreDtTm>"
        f"<MsgPgntn><PgNb>1</PgNb><LastPgInd>{last_page}</LastPgInd></MsgPgntn></GrpHdr>"
        f"<{report}><Id>R</Id><Acct><Ccy>UZS</Ccy></Acct>{body}</{report}></{root}></Document>"
    ).encode()


DEBIT = "<Ntry><Amt>{amt}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>{sts}</Sts></Ntry>"


@pytest.mark.parametrize("flag", ["YES", "NO", "true", "false"])
def test_lastpgind_quirks_are_tolerated(flag):
    st = read_camt(camt(DEBIT.format(amt="5.00", sts="BOOK"), last_page=flag))
    assert [e.amount for e in st.entries] == [Decimal("5.00")]


def test_camt053_v08_is_read_and_currency_falls_back_to_the_account():
    st = read_camt(camt(DEBIT.format(amt="7", sts="<Cd>BOOK</Cd>"), msg="camt.053", version="001.08"))
    assert (st.kind, st.version) == ("camt.053", "001.08")
    assert st.entries[0].currency == "UZS" and st.entries[0].source_line == "Stmt[1]/Ntry[1]"
    assert st.created_at == datetime(2024, 1, 2, 3, 4, 5, 123000)


def test_info_status_is_pending_and_debit_reversal_is_unclassified():
    body = DEBIT.format(amt="1", sts="INFO") + (
        "<Ntry><Amt>2</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts>BOOK</Sts></Ntry>"
    )
    st = read_camt(camt(body))
    assert st.entries == ()
    assert [p.status for p in st.pending] == ["INFO"]
    assert [u.amount for u in st.unclassified] == [Decimal("2")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (DEBIT.format(amt="12,50", sts="BOOK"), r"Ntfctn\[1\]/Ntry\[1\]/Amt: amount '12,50' is not a number"),
        ("<Ntry><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts></Ntry>", r"Ntfctn\[1\]/Ntry\[1\]: missing <Amt>"),
        (
            "<Ntry><Amt>1</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>05/03/2024</Dt></BookgDt></Ntry>",
            r"Ntfctn\[1\]/Ntry\[1\]/BookgDt: '05/03/2024' is not an ISO date",
        ),
    ],
)
def test_bad_camt_values_say_where(body, message):
    with pytest.raises(StatementError, match=message):
        read_camt(camt(body))


def test_unsupported_camt_version_is_refused():
    with pytest.raises(StatementError, match=r"got camt\.054\.001\.04"):
        read_camt(camt(DEBIT.format(amt="1", sts="BOOK"), version="001.04"))


# --- pain.002 -------------------------------------------------------------------------------------------------


def test_pain002_v03_statuses():
    st = read_pain002(fixture("srsp_pain002_v03_mixed.xml"))
    assert (st.kind, st.version, st.message_id) == ("pain.002", "001.03", "SRSP-STS-0001")
    entries = by_e2e(st)
    assert entries["SRSP-E2E-1"].outcome == "paid" and entries["SRSP-E2E-1"].amount == Decimal("450000.00")
    assert entries["SRSP-E2E-1"].account_servicer_ref == "BANK-1"


def test_pain002_rjct_with_reason_ac04_and_unknown_amount():
    rj = by_e2e(read_pain002(fixture("srsp_pain002_v03_mixed.xml")))["SRSP-E2E-2"]
    assert (rj.outcome, rj.reason_code, rj.reason_text) == ("failed", "AC04", "Closed account number")
    assert rj.amount_known is False and rj.amount == Decimal("0") and rj.currency is None
    assert rj.source_line == "OrgnlPmtInfAndSts[1]/TxInfAndSts[2]"


def test_pain002_acsp_is_pending_not_an_entry():
    st = read_pain002(fixture("srsp_pain002_v03_mixed.xml"))
    assert "SRSP-E2E-3" not in by_e2e(st)
    assert [(p.end_to_end_id, p.status) for p in st.pending] == [("SRSP-E2E-3", "ACSP")]


def test_pain002_rejected_block_without_transactions_becomes_a_failed_line():
    st = read_pain002(fixture("srsp_pain002_v03_mixed.xml"))
    [block] = [e for e in st.entries if e.source_line == "OrgnlPmtInfAndSts[2]"]
    assert block.outcome == "failed" and block.end_to_end_id is None and block.reason_code == "AM04"
    assert "SRSP-PMT-2" in block.reason_text and block.amount_known is False


def test_pain002_whole_file_rejection_without_transactions_raises_with_reason():
    with pytest.raises(StatementError, match=r"rejected the whole file SRSP-PAY-2024-04 .*FF01 Invalid file format"):
        read_pain002(fixture("srsp_pain002_v10_file_rejected.xml"))


def test_pain002_whole_file_rejection_fails_every_listed_transaction():
    st = read_pain002(fixture("srsp_pain002_v10_file_rejected_listed.xml"))
    assert st.version == "001.10" and st.pending == ()
    entries = by_e2e(st)
    assert {e.outcome for e in st.entries} == {"failed"}
    assert set(entries) == {"SRSP-E2E-9-1", "SRSP-E2E-9-2"}
    assert entries["SRSP-E2E-9-1"].reason_code == "DU01"  # inherited from the group
    assert entries["SRSP-E2E-9-2"].reason_code == "AC01"  # its own reason is more precise
    assert entries["SRSP-E2E-9-1"].amount == Decimal("10000.00")


def test_pain002_notprovided_inherited_block_status_and_unknown_code():
    data = (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        b"<GrpHdr><MsgId>S</MsgId><CreDtTm>2024-01-01T00:00:00</CreDtTm></GrpHdr>"
        b"<OrgnlGrpInfAndSts><OrgnlMsgId>P</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>"
        b"<OrgnlPmtInfAndSts><OrgnlPmtInfId>B</OrgnlPmtInfId><PmtInfSts>ACSC</PmtInfSts>"
        b"<TxInfAndSts><OrgnlEndToEndId>NOTPROVIDED</OrgnlEndToEndId></TxInfAndSts>"
        b"<TxInfAndSts><OrgnlEndToEndId>E2</OrgnlEndToEndId><TxSts>XYZW</TxSts></TxInfAndSts>"
        b"</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    )
    st = read_pain002(data)
    assert [(e.end_to_end_id, e.outcome) for e in st.entries] == [(None, "paid")]
    assert [(p.end_to_end_id, p.status) for p in st.pending] == [("E2", "XYZW")]  # unknown code: wait, never drop


def test_pain002_refuses_camt_and_camt_refuses_pain002():
    with pytest.raises(StatementError, match=r"expected pain\.002"):
        read_pain002(fixture(V08))
    with pytest.raises(StatementError, match=r"got pain\.002\.001\.03"):
        read_camt(fixture("srsp_pain002_v03_mixed.xml"))


# --- CSV ------------------------------------------------------------------------------------------------------


def test_csv_semicolon_decimal_comma_and_bom():
    data = (
        "\ufeff" + CSV_HEADER.replace(",", ";") + "\r\n"
        "SRSP-1;450 000,50;uzs;paid;2024-03-05;;\r\n"
        "SRSP-2;300000;UZS;returned;2024-03-06;ac04;Счёт закрыт\r\n"
        "\r\n"
        ";75000,00;UZS;FAILED;;MD07;\r\n"
    ).encode()
    st = read_csv(data)
    assert st.kind == "csv" and st.message_id is None
    one, two, three = st.entries
    assert (one.end_to_end_id, one.amount, one.currency, one.outcome) == ("SRSP-1", Decimal("450000.50"), "UZS", "paid")
    assert (two.outcome, two.reason_code, two.reason_text) == ("returned", "AC04", "Счёт закрыт")
    assert (three.end_to_end_id, three.outcome, three.booking_date) == (None, "failed", None)
    assert [e.source_line for e in st.entries] == ["row 2", "row 3", "row 5"]


def test_csv_comma_separated_with_decimal_point():
    data = f'{CSV_HEADER}\nSRSP-9,12.34,USD,paid,2024-01-31,,"note, with comma"\n'.encode()
    [entry] = read_csv(data).entries
    assert (entry.amount, entry.booking_date, entry.reason_text) == (
        Decimal("12.34"),
        date(2024, 1, 31),
        "note, with comma",
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("SRSP-1,abc,UZS,paid,,,", r"CSV row 3, column amount: 'abc' is not a number"),
        ("SRSP-1,-5,UZS,paid,,,", r"CSV row 3, column amount: '-5' must be a non-negative"),
        ('SRSP-1,"1.234,56",UZS,paid,,,', r"CSV row 3, column amount: .* mixes"),
        ("SRSP-1,5,SO'M,paid,,,", r"CSV row 3, column currency"),
        ("SRSP-1,5,UZS,sent,,,", r"CSV row 3, column status: 'sent'"),
        ("SRSP-1,5,UZS,paid,05.03.2024,,", r"CSV row 3, column booking_date: '05.03.2024'"),
        ("SRSP-1,5,UZS,paid", r"CSV row 3: 4 columns, expected 7"),
    ],
)
def test_csv_bad_row_names_row_and_column(row, message):
    data = f"{CSV_HEADER}\nSRSP-0,1,UZS,paid,,,\n{row}\n".encode()
    with pytest.raises(StatementError, match=message):
        read_csv(data)


def test_csv_wrong_header_and_encoding_are_refused():
    with pytest.raises(StatementError, match=r"row 1 \(header\).*missing \['reason_text'\]"):
        read_csv(b"end_to_end_id,amount,currency,status,booking_date,reason_code\n")
    with pytest.raises(StatementError, match="not UTF-8"):
        read_csv(CSV_HEADER.encode() + b"\nX,1,UZS,paid,,,\xff\n")
    with pytest.raises(StatementError, match="empty"):
        read_csv(b"")


# --- detection, refusals, identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("camt.053.001.02.xml", "camt.053"),
        ("camt.054.001.02.xml", "camt.054"),
        ("camt053_001_02.xml", "camt.053"),
        (V08, "camt.054"),
        ("srsp_pain002_v03_mixed.xml", "pain.002"),
    ],
)
def test_read_statement_detects_the_kind_from_content(name, kind):
    assert read_statement(fixture(name), filename="misleading.csv").kind == kind


def test_read_statement_falls_back_to_csv():
    data = ("\ufeff" + CSV_HEADER + "\nA,1,UZS,paid,,,\n").encode()
    assert read_statement(data).kind == "csv"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><invoice xmlns="urn:example:invoice"><total>5</total></invoice>',
        b'<Document xmlns="urn:example:not-iso"><BkToCstmrStmt/></Document>',
        b"<Document><BkToCstmrStmt/></Document>",
    ],
)
def test_non_iso_xml_is_refused(data):
    with pytest.raises(StatementError, match="not an ISO 20022 document"):
        read_statement(data, filename="upload.xml")


@needs_standards
def test_broken_xml_and_pain001_are_refused_with_the_filename():
    with pytest.raises(StatementError, match=r"^bank\.xml: not well-formed XML"):
        read_statement(b"<Document><unclosed></Document>", filename="bank.xml")
    pain001 = (STANDARDS / "example_files/gs_pain/pain001_001_08.xml").read_bytes()
    with pytest.raises(StatementError, match=r"pain\.001\.001\.08 is not a statement"):
        read_statement(pain001)


def test_external_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>'
        "<GrpHdr><MsgId>&x;</MsgId><CreDtTm>2024-01-01T00:00:00</CreDtTm></GrpHdr>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()
    st = read_camt(data)
    assert "TOPSECRET" not in repr(st)


@pytest.mark.parametrize(
    "name", ["camt.053.001.02.xml", "camt053_001_02.xml", V08, "srsp_pain002_v03_mixed.xml"]
)
def test_same_bytes_give_equal_statements_and_digest(name):
    raw = fixture(name)
    first, second = read_statement(raw), read_statement(bytes(raw))
    assert first == second and first.digest == second.digest
    assert len(first.digest) == 64
    assert read_statement(raw + b"\n").digest != first.digest  # the digest is of the raw bytes, not the content
