"""Policy simulation: a draft policy run over the latest facts of every assessed household (CLI and page).

Six households assessed under pack `uz`, with expected effects worked out by hand:

| hh | region      | application | members            | per capita | today (threshold 648 000 / 498 000 in 2022) |
|----|-------------|-------------|--------------------|-----------:|---------------------------------------------|
| H1 | UZ-TK       | 2026-11-10  | head, spouse, 2 kids | 700 000  | ineligible (an older assessment: eligible)  |
| H2 | UZ-SA       | 2026-11-10  | head, spouse, 1 kid  | 720 000  | ineligible                                  |
| H3 | UZ-TK       | 2026-11-10  | head, spouse         | 500 000  | eligible: material support 450 000          |
| H4 | UZ-TK       | 2026-11-10  | head, spouse, 1 kid  | 900 000  | ineligible                                  |
| H5 | UZ-SA       | 2026-11-10  | head                 | 600 000  | eligible: material support 450 000          |
| H6 | UZ-AN       | 2022-05-10  | head, spouse, 1 kid  | 600 000  | ineligible (version 2022.04: 498 000)       |

income_threshold = 750 000 makes H1 (4 people, 2 × 270 000), H2 (3 people, 270 000) and H6 (3 people,
200 000 under the 2022.04 amounts) eligible; 550 000 makes H5 (1 person, −450 000) ineligible.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from modules.means_test.assessment import store_assessment
from modules.means_test.models import Assessment
from modules.means_test.simulation import CSV_COLUMNS, simulate
from modules.means_test.simulation_tasks import simulate_national
from modules.registration.models import (
    Person,
    Relation,
)
from rules.engines import evaluate
from rules.pack import PACK_DIR, PackError, get_pack
from tests import factories
from tests.conftest import sign_in
from tests.means_test.conftest import RAISED, _facts
from webapp.extensions import db
from webapp.models import AuditEvent, Job

UZ_TEXT = (PACK_DIR / "uz.yaml").read_text(encoding="utf-8")
def _costs(rows) -> dict:
    return {row.code: (row.before, row.after, row.change) for row in rows}


def test_raising_the_threshold_makes_households_newly_eligible_with_their_people_and_cost(households):
    report = simulate("uz", RAISED)
    assert (report.households, report.people) == (6, 4 + 3 + 2 + 3 + 1 + 3)
    assert (report.eligible_before, report.eligible_after) == (2, 5)
    assert (report.newly_eligible_households, report.newly_eligible_people) == (3, 10)
    assert (report.newly_ineligible_households, report.newly_ineligible_people) == (0, 0)
    assert _costs(report.programmes) == {
        "child_allowance": (0, 1010000, 1010000), "material_support": (900000, 900000, 0),
        "disabled_child_care": (0, 0, 0), "maternity": (0, 0, 0)}
    assert _costs(report.regions) == {"UZ-AN": (0, 200000, 200000), "UZ-SA": (450000, 720000, 270000),
                                      "UZ-TK": (450000, 990000, 540000)}
    assert (report.cost_before, report.cost_after, report.cost_change) == (900000, 1910000, 1010000)

    by_household = {c.household_id: c for c in report.changed}
    assert set(by_household) == {households[k].household_id for k in ("H1", "H2", "H6")}
    h1 = by_household[households["H1"].household_id]
    assert (h1.application_id, h1.region, h1.members) == (households["H1"].application_id, "UZ-TK", 4)
    assert (h1.decision_before, h1.decision_after, h1.per_capita_income) == ("ineligible", "eligible", 700000)
    assert (h1.monthly_amount_before, h1.monthly_amount_after, h1.main_reason) == (0, 540000, "")
    assert by_household[households["H6"].household_id].monthly_amount_after == 200000  # the 2022.04 amount


def test_lowering_the_threshold_makes_households_newly_ineligible(households):
    report = simulate("uz", {"income_threshold": 550000})
    assert (report.newly_ineligible_households, report.newly_ineligible_people) == (1, 1)
    assert report.newly_eligible_households == 0
    assert _costs(report.programmes)["material_support"] == (900000, 450000, -450000)
    assert _costs(report.regions)["UZ-SA"] == (450000, 0, -450000)
    [change] = report.changed
    assert change.household_id == households["H5"].household_id
    assert (change.decision_before, change.decision_after) == ("eligible", "ineligible")
    assert change.main_reason_rule == "income_above_threshold"
    assert "600 000" in change.main_reason and "550 000" in change.main_reason


def test_no_change_changes_nothing_and_the_baseline_matches_the_stored_decisions(households):
    report = simulate("uz", {})
    assert report.changed == [] and report.cost_change == 0
    assert report.newly_eligible_households == report.newly_ineligible_households == 0
    stored = sum(float(a.monthly_total) for a in households.values())
    assert report.cost_before == report.cost_after == stored == 900000


def test_only_the_latest_assessment_of_each_household_counts(households):
    home_id = households["H1"].household_id
    assert len(db.session.scalars(select(Assessment).where(Assessment.household_id == home_id)).all()) == 2
    report = simulate("uz", {})
    assert report.households == 6 and report.eligible_before == 2  # H1's older, eligible assessment is ignored
    # A new assessment of H1 (a re-assessment with lower income) replaces the one before.
    latest = households["H1"]
    persons = [(db.session.scalar(select(Person).where(Person.pin == member["pin"])), Relation(member["relation"]))
               for member in latest.facts["members"]]
    again = _facts(persons, "2026-11-10", 300000, home_id)
    store_assessment(latest.application, again, evaluate(again, "uz", engine="pandas"), "pandas")
    report = simulate("uz", {})
    assert report.households == 6 and report.eligible_before == 3
    assert _costs(report.regions)["UZ-TK"][0] == 450000 + 540000


def test_a_whole_draft_pack_is_simulated_like_the_same_parameter_change(households):
    draft = UZ_TEXT.replace("value: 648000", "value: 750000").replace("value: 498000", "value: 750000")
    assert draft != UZ_TEXT
    from_file = simulate("uz", {}, pack_text=draft)
    from_parameters = simulate("uz", RAISED)
    assert from_file.draft == "draft.yaml"
    assert from_file.to_dict() | {"draft": "", "changes": {}} == from_parameters.to_dict() | {"draft": "",
                                                                                               "changes": {}}
    # Parameters can be changed on top of a draft pack.
    on_top = simulate("uz", {"income_threshold": 710000}, pack_text=draft)
    assert on_top.newly_eligible_households == 2  # H1 (700 000) and H6 (600 000), not H2 (720 000)


def test_a_pack_nobody_was_assessed_with_gives_an_empty_report_but_still_refuses_a_typo(households):
    report = simulate("kg", {"guaranteed_minimum_income": 2000})
    assert (report.households, report.changed, report.regions, report.cost_change) == (0, [], [], 0)
    assert [row.code for row in report.programmes] == [p.code for p in get_pack("kg").programmes]
    with pytest.raises(PackError, match="unknown parameter 'income_threshold'"):
        simulate("kg", RAISED)


@pytest.mark.parametrize(("changes", "pack_text", "words"), [
    ({"income_treshold": 1}, None, "unknown parameter 'income_treshold'"),
    ({"income_threshold": "lots"}, None, "'lots' is not a number"),
    ({}, "id: uz\nversions: [}", "draft.yaml: YAML"),
    ({}, UZ_TEXT.replace("per_capita_income > income_threshold", "per_capita_incme > income_threshold"),
     "rule income_above_threshold: unknown name 'per_capita_incme'"),
    ({}, UZ_TEXT.replace("id: uz", "id: kg", 1), "the draft is pack 'kg'"),
])
def test_bad_input_is_a_pack_error_naming_the_problem(households, changes, pack_text, words):
    with pytest.raises(PackError) as error:
        simulate("uz", changes, pack_text=pack_text)
    assert words in str(error.value)


def test_the_csv_lists_the_changed_households(households):
    report = simulate("uz", RAISED)
    buffer = io.StringIO()
    assert report.write_csv(buffer) == 3
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert list(rows[0]) == CSV_COLUMNS
    h2 = next(r for r in rows if r["household_id"] == str(households["H2"].household_id))
    assert h2 == {"household_id": str(households["H2"].household_id),
                  "application_id": str(households["H2"].application_id), "region": "UZ-SA", "members": "3",
                  "decision_before": "ineligible", "decision_after": "eligible", "per_capita_income": "720000",
                  "monthly_amount_before": "0", "monthly_amount_after": "270000", "monthly_change": "270000",
                  "main_reason_rule": "", "main_reason": ""}


# -- the command line ------------------------------------------------------------------------------------------


def test_cli_prints_a_summary_and_writes_the_csv(app, households, tmp_path):
    out = tmp_path / "changes.csv"
    result = app.test_cli_runner().invoke(args=["rules", "simulate", "--pack", "uz", "--set",
                                                "income_threshold=750000", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "Newly eligible: 3 households, 10 people" in result.output
    assert "Newly ineligible: 0 households, 0 people" in result.output
    assert "Monthly cost: 900 000.00 -> 1 910 000.00 (change +1 010 000.00)" in result.output
    assert any(line.split()[:1] == ["UZ-TK"] and line.rstrip().endswith("+540 000.00")
               for line in result.output.splitlines())
    assert any(line.split()[:1] == ["child_allowance"] and line.rstrip().endswith("+1 010 000.00")
               for line in result.output.splitlines())
    assert len(list(csv.reader(out.open(encoding="utf-8")))) == 1 + 3


def test_cli_json_and_draft_file(app, households, tmp_path):
    draft = tmp_path / "draft.yaml"
    draft.write_text(UZ_TEXT.replace("value: 648000", "value: 550000"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["rules", "simulate", "--pack-file", str(draft), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["newly_ineligible"] == {"households": 1, "people": 1}
    assert data["monthly_cost"] == {"before": 900000, "after": 450000, "change": -450000}
    assert [c["household_id"] for c in data["changed"]] == [households["H5"].household_id]


@pytest.mark.parametrize(("args", "words"), [
    (["--set", "income_threshold=abc"], "'abc' is not a number"),
    (["--set", "income_threshold"], "is not NAME=NUMBER"),
    (["--set", "no_such=1"], "unknown parameter 'no_such'"),
    (["--pack", "xx"], "no pack 'xx'"),
    (["--pack-file", "/nonexistent/draft.yaml"], "cannot read"),
])
def test_cli_bad_input_exits_2_with_a_message(app, households, args, words):
    result = app.test_cli_runner().invoke(args=["rules", "simulate", *args])
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- the page --------------------------------------------------------------------------------------------------


@pytest.fixture
def analyst_client(client):
    return sign_in(client, factories.make_user("analyst", national=True))


def _run(client, **kwargs):
    """Post the form; the simulation runs as a job (inline in tests, after the request) whose page shows it."""
    response = client.post("/policy/simulate", **kwargs)
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"], response.get_data(as_text=True)
    job_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    return job_id, client.get(f"/jobs/{job_id}").get_data(as_text=True)


def _csv(client, job_id):
    return client.post("/policy/simulate.csv", data={"csrf_token": client.csrf, "job": job_id})


def test_analyst_sees_the_form_runs_a_simulation_and_downloads_the_csv(analyst_client, households):
    page = analyst_client.get("/policy/simulate").get_data(as_text=True)
    assert "Policy simulation" in page and 'name="param-income_threshold" value="648000"' in page
    assert "Results" not in page

    form = {"csrf_token": analyst_client.csrf, "pack": "uz", "param-income_threshold": "750 000",
            "param-material_support_amount": "450000"}
    job_id, page = _run(analyst_client, data=form)
    assert '<span class="figure up" id="newly-eligible-households">3</span>' in page
    assert "households, 10 people" in page
    assert '<span class="figure" id="cost-change">+1\u00a0010\u00a0000' in page
    assert '<tr data-code="child_allowance"><td>Child allowance</td><td class="num">0.00</td>' in page
    assert '<tr data-code="UZ-TK"><td>Tashkent City</td><td class="num">450\u00a0000.00</td>' in page
    assert "<svg" in page and page.count("<rect ") == 3
    assert "Download CSV of the changes" in page

    response = _csv(analyst_client, job_id)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(int(r["household_id"]) for r in rows) == sorted(households[k].household_id
                                                                  for k in ("H1", "H2", "H6"))
    assert {r["decision_after"] for r in rows} == {"eligible"}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "policy.simulation_exported"))


def test_the_page_simulates_an_uploaded_draft_pack(analyst_client, households):
    draft = UZ_TEXT.replace("value: 648000", "value: 550000").encode()
    job_id, page = _run(analyst_client, data={
        "csrf_token": analyst_client.csrf, "pack": "uz", "draft_file": (io.BytesIO(draft), "draft.yaml")},
        content_type="multipart/form-data")
    assert '<span class="figure down" id="newly-ineligible-households">1</span>' in page
    [row] = list(csv.DictReader(io.StringIO(_csv(analyst_client, job_id).get_data(as_text=True).lstrip("\ufeff"))))
    assert row["household_id"] == str(households["H5"].household_id) and row["decision_after"] == "ineligible"


def test_only_who_ran_a_simulation_downloads_its_csv(app, analyst_client, households):
    job_id, _page = _run(analyst_client, data={"csrf_token": analyst_client.csrf, "pack": "uz",
                                               "param-income_threshold": "750000"})
    other = sign_in(app.test_client(), factories.make_user("analyst", national=True))
    assert _csv(other, job_id).status_code == 404
    assert _csv(analyst_client, "no-such-job").status_code == 404


def test_bad_input_is_shown_next_to_the_field_and_nothing_runs(analyst_client, households):
    response = analyst_client.post("/policy/simulate", data={"csrf_token": analyst_client.csrf, "pack": "uz",
                                                             "param-income_threshold": "a lot"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "a lot is not a number." in page and "Results" not in page
    field = page.index('name="param-income_threshold"')
    assert page.index("a lot is not a number.") - field < 400  # right below its field

    response = analyst_client.post("/policy/simulate", data={
        "csrf_token": analyst_client.csrf, "pack": "uz", "draft_file": (io.BytesIO(b"id: uz\nversions: [}"),
                                                                        "draft.yaml")},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "draft.yaml: YAML" in page and "Results" not in page
    assert not db.session.scalar(select(Job).where(Job.kind == simulate_national.name))


def test_staff_see_only_their_areas(client, households):
    sign_in(client, factories.make_user("analyst", areas=["UZ-TK"]))
    _job_id, page = _run(client, data={"csrf_token": client.csrf, "pack": "uz", "param-income_threshold": "750000"})
    assert '<span class="figure up" id="newly-eligible-households">1</span>' in page  # H1 only
    assert "Households in your areas only." in page and 'data-code="UZ-SA"' not in page


def test_registrar_cannot_simulate_and_has_no_link(registrar_client, households):
    assert registrar_client.get("/policy/simulate").status_code == 403
    assert registrar_client.post("/policy/simulate", data={"csrf_token": registrar_client.csrf}).status_code == 403
    assert registrar_client.post("/policy/simulate.csv", data={"csrf_token": registrar_client.csrf,
                                                               "param-income_threshold": "750000"}).status_code == 403
    assert "Policy simulation" not in registrar_client.get("/applications").get_data(as_text=True)


def test_analyst_has_the_nav_link(analyst_client):
    assert 'href="/policy/simulate">Policy simulation</a>' in analyst_client.get("/jobs").get_data(as_text=True)
