"""Bank files (modules/payments/bankfiles): pain.001 .03/.09 valid and byte-stable, CSV exact, batches checked."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from modules.payments.bankfiles import BankFileError, Batch, Debtor, Payment, csvfile, ids, pain001, streaming, xsd
from modules.payments.bankfiles.model import Header
from modules.payments.bankfiles.text import latin

VERSIONS = ("pain.001.001.03", "pain.001.001.09")
ORIGINAL_XSD_DIR = Path(__file__).resolve().parents[3] / "shared/standards/iso20022/xsd/payments_initiation/pain.001"
TASHKENT = timezone(timedelta(hours=5))


@pytest.fixture(autouse=True)
def _transaction():
    """Override the suite's per-test database transaction: this library has no database."""
    yield


def payment(line: int, amount: object = "0.10", **changes) -> Payment:
    """A valid payment of payroll 123, line `line`; a text amount becomes a Decimal, anything else is passed on."""
    amount = Decimal(amount) if isinstance(amount, str) else amount
    values = dict(end_to_end_id=ids.end_to_end_id(123, line), amount=amount, creditor_name="Aliyev Vali",
                  creditor_account="20206000900100001001", creditor_bank_code="00450",
                  remittance="Ijtimoiy nafaqa 2024-05")  # fmt: skip
    return Payment(**{**values, **changes})


def batch(payments=None, **changes) -> Batch:
    """A valid batch of three payments of 0.10."""
    values = dict(
        message_id=ids.message_id(123, "V1"),
        created_at=datetime(2024, 5, 31, 14, 0, 0, 987654, tzinfo=TASHKENT),
        requested_execution_date=date(2024, 6, 3),
        debtor=Debtor("Moliya vazirligi", "23402000300100001010", "00014", "NBFAUZ2X"),
        payments=payments if payments is not None else [payment(1), payment(2), payment(3)],
        initiating_party="SRSP",
    )
    return Batch(**{**values, **changes})


def parsed(xml: bytes) -> tuple[etree._Element, dict]:
    """The document and the namespace map for XPath (prefix p)."""
    root = etree.fromstring(xml)
    return root, {"p": etree.QName(root).namespace}


# --- schema validity ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_both_versions_valid_against_the_packaged_xsd(version):
    xml = pain001.render(batch(), version)
    schema = etree.XMLSchema(etree.parse(str(xsd.XSD_DIR / f"{version}.xsd")))
    assert schema.validate(etree.fromstring(xml)), schema.error_log
    assert etree.QName(etree.fromstring(xml)).namespace == f"urn:iso:std:iso:20022:tech:xsd:{version}"


@pytest.mark.skipif(not ORIGINAL_XSD_DIR.is_dir(), reason="../shared/standards/iso20022 not present")
@pytest.mark.parametrize("version", VERSIONS)
def test_valid_against_the_original_xsd_and_the_copy_is_unchanged(version):
    original = ORIGINAL_XSD_DIR / f"{version}.xsd"
    assert (xsd.XSD_DIR / f"{version}.xsd").read_bytes() == original.read_bytes()
    with_pin = batch([payment(1, creditor_pin="31502851234567"), payment(2)])
    schema = etree.XMLSchema(etree.parse(str(original)))
    for sample in (batch(), with_pin, batch(debtor=Debtor("Moliya vazirligi", "23402000300100001010", "00014"))):
        assert schema.validate(etree.fromstring(pain001.render(sample, version))), schema.error_log


def test_version_specific_elements():
    v03, ns03 = parsed(pain001.render(batch(), "pain.001.001.03"))
    v09, ns09 = parsed(pain001.render(batch(), "pain.001.001.09"))
    assert v03.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt", namespaces=ns03) == "2024-06-03"
    assert v09.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt/p:Dt", namespaces=ns09) == "2024-06-03"
    assert v03.findtext(".//p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=ns03) == "NBFAUZ2X"
    assert v09.findtext(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=ns09) == "NBFAUZ2X"


def test_layout_of_the_payment_information():
    root, ns = parsed(pain001.render(batch([payment(1, creditor_pin="31502851234567")])))
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", ns)
    assert [etree.QName(child).localname for child in info] == [
        "PmtInfId", "PmtMtd", "NbOfTxs", "CtrlSum", "ReqdExctnDt", "Dbtr", "DbtrAcct", "DbtrAgt", "ChrgBr",
        "CdtTrfTxInf"]  # fmt: skip
    assert (info.findtext("p:PmtMtd", namespaces=ns), info.findtext("p:ChrgBr", namespaces=ns)) == ("TRF", "SLEV")
    assert info.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=ns) == "23402000300100001010"
    assert info.findtext("p:DbtrAcct/p:Ccy", namespaces=ns) == "UZS"
    assert info.findtext("p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=ns) == "00014"
    tx = info.find("p:CdtTrfTxInf", ns)
    assert tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns) == "SRSP-P000123-L0000001"
    assert tx.find("p:Amt/p:InstdAmt", ns).attrib == {"Ccy": "UZS"}
    assert tx.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=ns) == "00450"
    assert tx.findtext("p:Cdtr/p:Nm", namespaces=ns) == "Aliyev Vali"
    assert tx.findtext("p:Cdtr/p:Id/p:PrvtId/p:Othr/p:Id", namespaces=ns) == "31502851234567"
    assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=ns) == "20206000900100001001"
    assert tx.findtext("p:RmtInf/p:Ustrd", namespaces=ns) == "Ijtimoiy nafaqa 2024-05"


# --- determinism --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_same_batch_gives_byte_identical_file(version):
    first = pain001.render(batch(), version)
    assert pain001.render(batch(), version) == first
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")


@pytest.mark.parametrize("render", [lambda b: pain001.render(b, VERSIONS[0]), lambda b: pain001.render(b, VERSIONS[1]),
                                    csvfile.render], ids=["pain.03", "pain.09", "csv"])  # fmt: skip
def test_payment_order_does_not_matter(render):
    forward = batch([payment(1, "1.00"), payment(2, "2.00"), payment(10, "3.00")])
    shuffled = batch([payment(10, "3.00"), payment(1, "1.00"), payment(2, "2.00")])
    assert render(shuffled) == render(forward)
    assert [p.end_to_end_id for p in shuffled.payments] == [ids.end_to_end_id(123, n) for n in (1, 2, 10)]


def test_creation_time_written_in_utc_without_microseconds():
    root, ns = parsed(pain001.render(batch()))
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", namespaces=ns) == "2024-05-31T09:00:00+00:00"
    same_instant = datetime(2024, 5, 31, 9, 0, 0, tzinfo=UTC)
    assert pain001.render(batch(created_at=same_instant)) == pain001.render(batch())


@pytest.mark.parametrize("version", VERSIONS)
def test_totals_are_exact_decimal_sums(version):
    sample = batch()  # 3 x 0.10: a float sum would give 0.30000000000000004
    assert sample.control_sum.as_tuple() == Decimal("0.30").as_tuple()
    root, ns = parsed(pain001.render(sample, version))
    for level in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert root.findtext(f"{level}/p:NbOfTxs", namespaces=ns) == "3"
        assert root.findtext(f"{level}/p:CtrlSum", namespaces=ns) == "0.30"
    amounts = root.xpath("//p:InstdAmt/text()", namespaces=ns)
    assert amounts == ["0.10", "0.10", "0.10"]
    big = batch([payment(1, "1500000"), payment(2, "1234567.89")])
    root, ns = parsed(pain001.render(big, version))
    assert root.xpath("//p:InstdAmt/text()", namespaces=ns) == ["1500000.00", "1234567.89"]
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "2734567.89"


# --- refused batches ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "field"), [
    (lambda: payment(1, "-5.00"), "amount"),
    (lambda: payment(1, "0"), "amount"),
    (lambda: payment(1, "1.005"), "amount"),
    (lambda: payment(1, amount=0.5), "amount"),  # exactly representable, refused all the same: floats are a bug
    (lambda: payment(1, amount=Decimal("NaN")), "amount"),
    (lambda: payment(1, "1E+16"), "amount"),
    (lambda: payment(1, end_to_end_id="X" * 36), "end_to_end_id"),
    (lambda: payment(1, end_to_end_id="SRSP P1"), "end_to_end_id"),
    (lambda: payment(1, creditor_account="2020600090010000100"), "creditor_account"),
    (lambda: payment(1, creditor_account="UZ20206000900100001001"), "creditor_account"),
    (lambda: payment(1, creditor_bank_code="0450"), "creditor_bank_code"),
    (lambda: payment(1, creditor_name="  «»  "), "creditor_name"),
    (lambda: payment(1, remittance="x" * 141), "remittance"),
    (lambda: payment(1, remittance="ш" * 71), "remittance"),  # 71 characters become 142 after transliteration
    (lambda: payment(1, currency="uzs"), "currency"),
    (lambda: payment(1, creditor_pin="3150285123456"), "creditor_pin"),
    (lambda: batch([]), "payments"),
    (lambda: batch([payment(1), payment(2), payment(1, "2.00")]), "end_to_end_id"),
    (lambda: batch([payment(1), payment(2, currency="USD")]), "currency"),
    (lambda: batch(message_id="M" * 36), "message_id"),
    (lambda: batch(created_at=datetime(2024, 5, 31, 14, 0)), "created_at"),
    (lambda: batch(requested_execution_date=datetime(2024, 6, 3, tzinfo=UTC)), "requested_execution_date"),
    (lambda: batch(payments=[payment(1, "9" * 16), payment(2, "9" * 16)]), "payments"),
    (lambda: Debtor("Moliya vazirligi", "23402000300100001010", "00014", bic="nbfauz2x"), "debtor.bic"),
    (lambda: Debtor("Moliya vazirligi", "2340200030010000101", "00014"), "debtor.account"),
])  # fmt: skip
def test_invalid_batches_are_refused_naming_the_field(make, field):
    with pytest.raises(BankFileError, match=rf"^{re.escape(field)}\b"):
        make()


def test_duplicate_end_to_end_id_message_names_the_payment():
    with pytest.raises(BankFileError) as error:
        batch([payment(7), payment(7, "2.00")])
    expected = "end_to_end_id (payment SRSP-P000123-L0000007): is used twice in the batch (it must be unique)"
    assert str(error.value) == expected


def test_amounts_are_normalised_to_two_decimals():
    assert payment(1, amount=5).amount.as_tuple() == Decimal("5.00").as_tuple()
    assert payment(1, "1.500").amount.as_tuple() == Decimal("1.50").as_tuple()


def test_unknown_version_is_refused():
    with pytest.raises(BankFileError, match="^version: "):
        pain001.render(batch(), "pain.001.001.08")


# --- text ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Шарипов Ғайрат Ўктамович", "Sharipov G'ayrat O'ktamovich"),
    ("ШАРИПОВ ЕРҒАШ", "SHARIPOV YERG'ASH"),
    ("Алиев Элёр Юсупович", "Aliyev Elyor Yusupovich"),
    ("Ҳасанова Қумри Цой", "Hasanova Qumri Tsoy"),
    ("Хасанов Жасур", "Xasanov Jasur"),
    ("Маъруф Ильич Щукин", "Ma'ruf Ilich Shukin"),
    ("Gʻulomov Oʻgʻiloy Maʼruf", "G'ulomov O'g'iloy Ma'ruf"),
    ("G‘ulomov O’g`iloy", "G'ulomov O'g'iloy"),
    ("Café «Rossiya» № 5 & Co", "Cafe Rossiya No 5 Co"),
    ("Zoë Müller-Lüdenscheid", "Zoe Muller-Ludenscheid"),
    ("  tab\there  ", "tab here"),
])  # fmt: skip
def test_latin(text, expected):
    assert latin(text) == expected


def test_names_are_transliterated_in_the_batch_and_the_file():
    cyrillic = payment(1, creditor_name="Тошматова Гулчеҳра", remittance="Болаларга нафақа")
    uzbek_latin = payment(2, creditor_name="Oʻrinboyev Gʻayrat")
    sample = batch([cyrillic, uzbek_latin], initiating_party="Ijtimoiy himoya milliy agentligi")
    assert (cyrillic.creditor_name, cyrillic.remittance) == ("Toshmatova Gulchehra", "Bolalarga nafaqa")
    root, ns = parsed(pain001.render(sample))
    assert root.xpath("//p:Cdtr/p:Nm/text()", namespaces=ns) == ["Toshmatova Gulchehra", "O'rinboyev G'ayrat"]
    assert b"Bolalarga nafaqa" in csvfile.render(sample)


# --- validate -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_corrupted_document_fails_with_a_line_number(version):
    lines = pain001.render(batch(), version).split(b"\n")
    removed = next(i for i, line in enumerate(lines) if b"<PmtMtd>" in line)
    del lines[removed]  # PmtMtd is required; the element now in its place (line removed + 1) is unexpected
    with pytest.raises(BankFileError, match=rf"line {removed + 1}: Element .*NbOfTxs.*not expected"):
        xsd.validate(b"\n".join(lines), version)


def test_not_well_formed_fails_with_a_line_number():
    with pytest.raises(BankFileError, match=r"not well-formed XML: line 2: "):
        xsd.validate(b"<?xml version='1.0'?>\n<Document><open></Document>", VERSIONS[0])


def test_render_refuses_to_return_an_invalid_file(monkeypatch):
    monkeypatch.setattr(pain001, "_group_header", lambda parent, batch: None)
    with pytest.raises(BankFileError, match="not a valid pain.001.001.03 file"):
        pain001.render(batch())


def test_schemas_are_loaded_once():
    assert xsd.schema(VERSIONS[0]) is xsd.schema(VERSIONS[0])


# --- CSV ----------------------------------------------------------------------------------------------------------


def test_csv_exact():
    sample = batch([payment(2, "1500000", creditor_name="Тошматова, Гулчеҳра"), payment(1, "0.5")])
    assert csvfile.render(sample) == (
        b"end_to_end_id,creditor_name,creditor_account,creditor_bank_code,amount,currency,remittance\r\n"
        b"SRSP-P000123-L0000001,Aliyev Vali,20206000900100001001,00450,0.50,UZS,Ijtimoiy nafaqa 2024-05\r\n"
        b'SRSP-P000123-L0000002,"Toshmatova, Gulchehra",20206000900100001001,00450,1500000.00,UZS,'
        b"Ijtimoiy nafaqa 2024-05\r\n"
    )


# --- ids ----------------------------------------------------------------------------------------------------------


def test_ids_are_stable_short_and_plain():
    assert ids.end_to_end_id(123, 456) == "SRSP-P000123-L0000456"
    assert ids.message_id(123, "V1") == "SRSP-P000123-V1"
    assert ids.end_to_end_id(10**12, 10**12) == "SRSP-P1000000000000-L1000000000000"  # wider, never truncated
    for value in (ids.end_to_end_id(10**12, 10**12), ids.message_id(10**12, "V" * 12)):
        assert re.fullmatch(r"[A-Za-z0-9-]{1,35}", value)


@pytest.mark.parametrize("call", [
    lambda: ids.end_to_end_id(0, 1), lambda: ids.end_to_end_id(1, -1), lambda: ids.end_to_end_id(True, 1),
    lambda: ids.end_to_end_id("1", 1), lambda: ids.message_id(1, "V-1"), lambda: ids.message_id(1, ""),
    lambda: ids.end_to_end_id(10**13, 10**13),
])  # fmt: skip
def test_bad_id_parts_are_refused(call):
    with pytest.raises(BankFileError):
        call()


def test_frozen_batch_copies_are_revalidated():
    with pytest.raises(BankFileError, match="^amount"):
        replace(payment(1), amount=Decimal("-1"))


# --- streamed files -----------------------------------------------------------------------------------------------


def _header(sample: Batch, **changes) -> Header:
    values = dict(message_id=sample.message_id, created_at=sample.created_at,
                  requested_execution_date=sample.requested_execution_date, debtor=sample.debtor,
                  initiating_party=sample.initiating_party, number_of_payments=len(sample.payments),
                  control_sum=sample.control_sum)
    return Header(**{**values, **changes})


def _parts(sample: Batch):
    texts = [pain001.transaction_text(p.end_to_end_id, f"{p.amount:.2f}", p.creditor_bank_code, p.creditor_name,
                                      p.creditor_account, p.remittance, p.creditor_pin) for p in sample.payments]
    return [("".join(texts[:2]), 2, sum(p.amount for p in sample.payments[:2])),
            ("".join(texts[2:]), len(texts) - 2, sum(p.amount for p in sample.payments[2:]))]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stream_of_parts_gives_the_batchs_file(version):
    sample = batch([payment(1, "1.00"), payment(2, "2.00", creditor_pin="31502851234567"), payment(10, "3.00")])
    assert pain001.render_stream(_header(sample), _parts(sample), version) == pain001.render(sample, version)


def test_a_stream_whose_parts_do_not_add_up_to_its_header_is_refused():
    sample = batch()
    with pytest.raises(BankFileError, match="^payments: 3 payments of 0.30 in total, the header says 4 of 0.30"):
        pain001.render_stream(_header(sample, number_of_payments=4), _parts(sample))
    with pytest.raises(BankFileError, match="^payments: "):
        pain001.render_stream(_header(sample, control_sum=Decimal("0.40")), _parts(sample))


@pytest.mark.parametrize(("changes", "field"), [
    ({"number_of_payments": 0}, "payments"),
    ({"control_sum": Decimal("-1.00")}, "control_sum"),
    ({"control_sum": Decimal("0.001")}, "control_sum"),
    ({"message_id": "M" * 36}, "message_id"),
])  # fmt: skip
def test_a_header_is_checked_as_a_batch_is(changes, field):
    with pytest.raises(BankFileError, match=rf"^{re.escape(field)}\b"):
        _header(batch(), **changes)


@pytest.mark.skipif(not streaming.available(), reason="no system libxml2")
@pytest.mark.parametrize("version", VERSIONS)
def test_the_streaming_validator_answers_as_lxml_does(version):
    xml = pain001.render(batch([payment(1), payment(2, creditor_pin="31502851234567")]), version)
    path = xsd.XSD_DIR / f"{version}.xsd"
    assert streaming.is_valid(xml, path) is True
    wrong_element = xml.replace(b"<MmbId>00450</MmbId>", b"<MemberId>00450</MemberId>", 1)
    too_long = xml.replace(b"<EndToEndId>SRSP-P000123-L0000001<", b"<EndToEndId>" + b"X" * 36 + b"<", 1)
    for bad in (wrong_element, too_long, xml[:-20], b"<Document>&undefined;</Document>"):
        assert streaming.is_valid(bad, path) is False
    assert not xsd.schema(version).validate(etree.fromstring(wrong_element))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_large_file_with_an_invalid_part_is_refused_with_the_schemas_report(version, monkeypatch):
    monkeypatch.setattr(pain001, "_PART_MIN", 1)  # parts checked on the threads, as for a national payroll
    good = batch([payment(n) for n in range(1, 9)])
    assert xsd.validate(pain001.render(good, version), version) is None
    monkeypatch.setattr(pain001, "transaction_text", lambda *a, **k: "      <Wrong/>\n")
    with pytest.raises(BankFileError, match=f"^not a valid {version} file:\nline "):
        pain001.render(good, version)
