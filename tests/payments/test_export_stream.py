"""A payroll's pain.001 is written from its lines as they are read (no `Payment` per line), with the same bytes as
the `Batch` of the same lines gives; a line the stream does not write falls back to the Batch and its messages."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from modules.payments import arrears, checks, export, generation, status
from modules.payments.bankfiles import pain001
from modules.payments.bankfiles.xsd import VERSIONS
from modules.payments.status import PayrollError
from tests import factories
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import finance_checker as _checker
from tests.factories import totp_code as _code
from webapp.extensions import db


@pytest.fixture
def maker(app):
    return factories.make_user("finance_maker", national=True)


def _approved(maker, period: str = "2026-01"):
    payroll = generation.generate("child_allowance", "UZ-TK", period, actor=maker)
    checks.run_checks(payroll, maker)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    return payroll


def test_the_streamed_file_is_byte_for_byte_the_batchs_file(maker):
    family = _household()
    family["head"].last_name, family["head"].first_name = "Шарипова", "Гулнора"  # transliterated on the way out
    owed = _enrol(family)
    _enrol(family, family["children"][1])
    latin = _household()
    latin["head"].last_name, latin["head"].first_name = "Gʻulomova", "Oʻgʻiloy"
    _enrol(latin)
    arrears.owe_missed_months(owed, "2025-12", "Appeal 2026/17")
    db.session.flush()
    payroll = _approved(maker)
    for version in VERSIONS:
        streamed = export._stream_pain001(payroll, version)
        assert streamed is not None  # the usual lines: written by the stream, not the Batch
        assert streamed == export.render(payroll, version) == pain001.render(export.build_batch(payroll), version)
    xml = export.render(payroll, VERSIONS[0]).decode()
    assert "<Nm>Sharipova Gulnora</Nm>" in xml and "<Nm>G'ulomova O'g'iloy</Nm>" in xml
    assert xml.count("ARREARS 2025-12") == 1 and "<NbOfTxs>4</NbOfTxs>" in xml


def test_a_line_the_stream_does_not_write_goes_through_the_batch_and_its_message(maker):
    family = _household()
    family["head"].last_name, family["head"].first_name = "«»", "»«"  # nothing a bank's Latin set carries
    _enrol(family)
    db.session.flush()
    payroll = _approved(maker)
    assert export._stream_pain001(payroll, VERSIONS[0]) is None
    with pytest.raises(PayrollError, match="creditor_name"):
        export.render(payroll, VERSIONS[0])


def test_the_export_leaves_the_sessions_settings_as_it_found_them(maker):
    _enrol(_household())
    payroll = _approved(maker)
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the sort memory is a PostgreSQL setting")
    before = db.session.scalar(text("SELECT current_setting('work_mem')"))
    assert export._stream_pain001(payroll, VERSIONS[0]) is not None
    assert db.session.scalar(text("SELECT current_setting('work_mem')")) == before
