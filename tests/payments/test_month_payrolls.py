"""The month's payrolls as one job per region: the parts planned from the enrolments due, each region generated and
checked, the month's result assembled, a failed region retried alone, the page's and the command line's way in."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest
from sqlalchemy import select

from modules.payments import tasks
from modules.payments.models import Payroll, PayrollStatus
from modules.payments.status import PayrollError
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import page_text as _text
from tests.payments.conftest import signed_in_client as _client
from webapp import fanout
from webapp.extensions import db
from webapp.models import Area, Job, JobStatus


def _job(job_id: str) -> Job:
    return db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))


def _parts(job_id: str) -> dict[str, Job]:
    return {fanout.part_key(part): part for part in fanout.parts_of(job_id)}


def _payrolls() -> dict[tuple[str, str], Payroll]:
    db.session.expire_all()
    return {(payroll.programme.code, payroll.area.code): payroll
            for payroll in db.session.scalars(select(Payroll).where(Payroll.period == PERIOD))}


@pytest.fixture
def month():
    """Enrolments due in two regions (two programmes in Tashkent), one deceased child in Samarkand; nothing
    elsewhere."""
    tashkent, samarkand = _household("UZ-TK"), _household("UZ-SA")
    _enrol(tashkent)
    _enrol(tashkent, tashkent["children"][1])
    _enrol(tashkent, tashkent["spouse"], programme="material_support", amount="400000.00")
    _enrol(samarkand)
    _enrol(samarkand, samarkand["children"][1])
    samarkand["children"][1].death_date = date(2025, 12, 1)
    _enrol(_household("UZ-NW"), start=date(2026, 6, 1))  # not due in the month
    db.session.flush()
    return factories.make_user("finance_maker", national=True)


def test_the_month_runs_a_job_per_region_with_enrolments_due_and_assembles_the_result(app, month):
    job_id = tasks.start_month(month, PERIOD)
    db.session.commit()  # inline: the regions run one after the other, then the month is assembled
    parts = _parts(job_id)
    assert sorted(parts) == ["UZ-SA", "UZ-TK"]
    assert parts["UZ-TK"].params["programmes"] == ["child_allowance", "material_support"]
    assert parts["UZ-SA"].params == {"period": PERIOD, "region": "UZ-SA", "programmes": ["child_allowance"],
                                     "user_id": month.id}
    payrolls = _payrolls()
    assert sorted(payrolls) == [("child_allowance", "UZ-SA"), ("child_allowance", "UZ-TK"),
                                ("material_support", "UZ-TK")]
    assert {payroll.status for payroll in payrolls.values()} == {PayrollStatus.checked}
    assert {payroll.prepared_by_id for payroll in payrolls.values()} == {month.id}
    job = _job(job_id)
    assert job.status is JobStatus.finished and job.progress == 100
    result = job.result
    assert (result["period"], result["payrolls"], result["lines"], result["total"]) == (PERIOD, 3, 3, "750000.00")
    # Material support is checked after the child allowance in Tashkent, as a person preparing them in turn would:
    # the household's child allowance makes its material support line incompatible.
    assert result["excluded"] == {"deceased": 1, "incompatible_programmes": 1}
    assert result["regions"]["UZ-SA"] == {
                                          "payrolls": [payrolls[("child_allowance", "UZ-SA")].id], "lines": 1,
                                          "total": "250000.00", "excluded": {"deceased": 1}}
    assert parts["UZ-TK"].result["done"] == 2


def test_a_failed_region_is_retried_alone_and_the_others_keep_their_payrolls(app, month, monkeypatch):
    real = tasks.generate

    def failing_in_samarkand(programme, region, period, actor=None):
        if region == "UZ-SA":
            raise RuntimeError("the database went away")
        return real(programme, region, period, actor)

    monkeypatch.setattr(tasks, "generate", failing_in_samarkand)
    job_id = tasks.start_month(month, PERIOD)
    db.session.commit()
    parts = _parts(job_id)
    assert parts["UZ-SA"].status is JobStatus.failed and parts["UZ-TK"].status is JobStatus.finished
    assert _job(job_id).status is JobStatus.failed and _job(job_id).progress == 50
    kept = {key: (payroll.id, payroll.line_count, payroll.checked_at) for key, payroll in _payrolls().items()}
    assert sorted(kept) == [("child_allowance", "UZ-TK"), ("material_support", "UZ-TK")], "Samarkand made nothing"

    monkeypatch.setattr(tasks, "generate", real)
    fanout.retry(parts["UZ-SA"])
    db.session.commit()
    after = _payrolls()
    assert {key: (p.id, p.line_count, p.checked_at) for key, p in after.items() if key[1] == "UZ-TK"} == kept
    assert after[("child_allowance", "UZ-SA")].status is PayrollStatus.checked
    assert _parts(job_id)["UZ-TK"].attempts == 1, "Tashkent did not run again"
    job = _job(job_id)
    assert job.status is JobStatus.finished and job.result["payrolls"] == 3


def test_a_region_run_twice_counts_its_checked_payrolls_without_preparing_them_again(app, month):
    first = tasks.prepare_region("job", period=PERIOD, region="UZ-TK", programmes=["child_allowance"])
    again = tasks.prepare_region("job", period=PERIOD, region="UZ-TK", programmes=["child_allowance"])
    assert [item["prepared"] for item in first["payrolls"] + again["payrolls"]] == [True, False]
    assert first["payrolls"][0]["id"] == again["payrolls"][0]["id"] and again["lines"] == first["lines"] == 2


def test_only_a_national_finance_maker_prepares_the_whole_month(app, month):
    regional = factories.make_user("finance_maker", areas=["UZ-TK"])
    with pytest.raises(PayrollError, match="national scope"):
        tasks.start_month(regional, PERIOD)
    with pytest.raises(PayrollError, match="is not a month"):
        tasks.start_month(month, "2026-13")


def test_a_month_being_prepared_is_not_started_twice(app, month, monkeypatch):
    monkeypatch.setattr("webapp.jobs.dispatch", lambda *args, **kwargs: None)  # it stays queued
    tasks.start_month(month, PERIOD)
    db.session.commit()
    with pytest.raises(PayrollError, match="being prepared already"):
        tasks.start_month(month, PERIOD)


def test_the_payrolls_page_prepares_the_whole_month_and_the_job_page_shows_the_regions(app, month):
    db.session.commit()
    client = _client(app, month)
    page = _text(client.get("/payrolls"))
    assert 'id="prepare-month"' in page
    response = client.post("/payrolls/prepare-month", data={"period": PERIOD, "csrf_token": client.csrf})
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    page = _text(client.get(response.headers["Location"]))
    assert factories.area("UZ-SA").name in page and factories.area("UZ-TK").name in page
    assert 'id="month-result"' in page and "3 payrolls, 3 lines" in page


def test_a_regional_maker_has_no_whole_month_form(app, month):
    regional = factories.make_user("finance_maker", areas=["UZ-TK"])
    db.session.commit()
    client = _client(app, regional)
    assert 'id="prepare-month"' not in _text(client.get("/payrolls"))
    response = client.post("/payrolls/prepare-month", data={"period": PERIOD, "csrf_token": client.csrf})
    assert response.status_code == 302 and db.session.scalar(select(Job).where(Job.kind == tasks.prepare_month.name)
                                                             ) is None


def test_the_command_line_prints_the_job_and_inline_the_months_result(app, month):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["payroll", "generate-month", "--period", PERIOD])
    assert result.exit_code == 0, result.output
    job_line, outcome = result.output.strip().splitlines()
    assert job_line.startswith("Job ")
    outcome = json.loads(outcome)
    assert (outcome["status"], outcome["payrolls"], outcome["lines"]) == ("finished", 3, 3)
    assert sorted(outcome["regions"]) == ["UZ-SA", "UZ-TK"]


def test_with_workers_the_command_line_prints_the_job_only(app, month, monkeypatch):
    db.session.commit()
    monkeypatch.setitem(app.config, "JOBS_INLINE", False)
    monkeypatch.setattr("webapp.jobs.dispatch", lambda *args, **kwargs: None)  # on Redis, for the workers
    result = app.test_cli_runner().invoke(args=["payroll", "generate-month", "--period", PERIOD])
    assert result.exit_code == 0, result.output
    [line] = result.output.strip().splitlines()
    job = _job(line.removeprefix("Job "))
    assert job.status is JobStatus.queued and job.kind == tasks.prepare_month.name


def test_the_command_line_refuses_a_bad_month(app):
    result = app.test_cli_runner().invoke(args=["payroll", "generate-month", "--period", "2026-13"])
    assert result.exit_code == 1 and "2026-13 is not a month" in result.output


PROGRAMMES = {"UZ-TK": "child_allowance", "UZ-SA": "material_support"}


@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="regions side by side: PostgreSQL")
def test_a_person_in_two_regions_is_paid_once_when_the_regions_run_side_by_side(app, monkeypatch):
    """Both regions generate before either checks (a barrier holds them): the second to check sees the first's
    committed lines, as if the regions had been prepared one after the other."""
    period, start = "2027-04", date(2027, 4, 1)  # a month no other test pays
    tashkent, samarkand = _household("UZ-TK"), _household("UZ-SA")
    child = tashkent["children"][0]
    # One person in two households: a child paid the child allowance in Tashkent is the beneficiary of material
    # support in a Samarkand household too.
    enrolments = {"UZ-TK": _enrol(tashkent, child, start=start),
                  "UZ-SA": _enrol(samarkand, child, programme="material_support", amount="400000.00", start=start)}
    db.session.commit()
    families = {region: {"application": family["application"].id, "household": family["household"].id,
                         "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}
                for region, family in (("UZ-TK", tashkent), ("UZ-SA", samarkand))}
    enrolment_ids = {region: enrolment.id for region, enrolment in enrolments.items()}
    db.session.remove()
    both_generated, take_turn = threading.Barrier(2), tasks.take_the_months_turn

    def after_both_generated(month):
        both_generated.wait(timeout=30)
        take_turn(month)

    monkeypatch.setattr(tasks, "take_the_months_turn", after_both_generated)
    monkeypatch.setattr(tasks, "_no_line_yet", lambda: False)  # not a new database: regions generate side by side
    results = {}

    def run(region):
        with app.app_context():
            try:
                results[region] = tasks.prepare_region("job", period=period, region=region,
                                                       programmes=[PROGRAMMES[region]])
                db.session.commit()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(region,)) for region in PROGRAMMES]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(result["excluded"].get("two_households", 0) for result in results.values()) == [0, 1]
        assert sum(result["lines"] for result in results.values()) == 1, "the child is paid in one household"
    finally:
        db.session.rollback()
        payrolls = dict(db.session.execute(select(Area.code, Payroll.id).join(Area, Area.id == Payroll.area_id)
                                           .where(Payroll.period == period)).all())
        for region in ("UZ-SA", "UZ-TK"):  # Samarkand first: its enrolment pays a Tashkent child
            factories.remove_payroll(payrolls[region], enrolment_ids[region], families[region])


@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="the turn is a PostgreSQL lock")
def test_checking_a_single_payroll_takes_the_months_turn_too(app, month):
    """A payroll prepared on its own (the payrolls page) waits for the same turn as the month's regions."""
    from sqlalchemy import create_engine, text

    from modules.payments.checks import run_checks
    from modules.payments.generation import generate

    run_checks(generate("child_allowance", "UZ-TK", PERIOD))
    other = create_engine(db.engine.url)
    try:
        with other.connect() as conn:
            held = conn.scalar(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
                "AND l.objid::bigint = (hashtext('payroll_checks:' || :period)::bigint & 4294967295)"),
                {"period": PERIOD})
    finally:
        other.dispose()
    assert held == 1
