"""The policy simulation as a background job, one part per region (a national run takes longer than a request).

Each part simulates the households of one region (and one part those outside every region) and returns its
partial report as plain values; the parent merges them into the report the whole country's simulation gives
(`simulation.merge`). The draft's changes and the draft pack's text travel as plain values.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from modules.means_test.simulation import NO_REGION, merge, partial, simulate
from webapp import fanout
from webapp.extensions import db
from webapp.jobs import enqueue, task
from webapp.models import User

CHART_WIDTH, CHART_BAR_HEIGHT, CHART_LABEL, CHART_VALUE = 720, 22, 200, 110


@task("default", timeout=3600)
def simulate_region(job_id: str, pack_id: str, changes: dict, region: str, pack_text: str | None = None,
                    as_of: str | None = None, language: str = "en", user_id: int | None = None) -> dict:
    """One region's part of a policy simulation: its partial report; "done" counts its households."""
    user = db.session.get(User, user_id) if user_id else None
    report = simulate(pack_id, changes, pack_text, date.fromisoformat(as_of) if as_of else None,
                      language=language, user=user, region=region)
    return {**partial(report), "region": region, "done": report.households}


def assemble_simulation(results: dict[str, dict], user_id: int | None = None, labels: dict | None = None,
                        **_params) -> dict:
    """The country's report (`SimulationReport.to_dict()`), merged from the regions' partial reports, with what its
    page shows besides: the bars of the cost change by region, the changed parameters' names, and whether the
    households were only those of the user's areas."""
    report = merge([results[key] for key in sorted(results)])
    user = db.session.get(User, user_id) if user_id else None
    return {**report.to_dict(), "chart": region_chart(report.regions),
            "labels": {name: (labels or {}).get(name, name) for name in report.changes},
            "scoped": user is not None and not user.national_scope}


def region_chart(rows) -> dict:
    """Horizontal bars of the monthly cost change by region, laid out here so the page needs no script.

    Three columns: the region's name, the bars (growing right from the zero line for an increase, left for a
    decrease) and the value.
    """
    largest = max([abs(row.change) for row in rows] + [0.0])
    left, right = CHART_LABEL + 10, CHART_WIDTH - CHART_VALUE
    span = right - left
    negative, positive = any(row.change < 0 for row in rows), any(row.change > 0 for row in rows)
    zero = left + span / 2 if negative and positive else right if negative else left
    scale = (span / 2 if negative and positive else span) / largest if largest else 0
    bars = []
    for index, row in enumerate(rows):
        length = abs(row.change) * scale
        bars.append({"label": row.name, "code": row.code, "change": row.change,
                     "x": round(zero - length if row.change < 0 else zero, 1), "width": round(length, 1),
                     "y": index * CHART_BAR_HEIGHT, "negative": row.change < 0})
    return {"bars": bars, "zero": round(zero, 1), "width": CHART_WIDTH, "value_x": CHART_WIDTH - 4,
            "height": max(len(rows), 1) * CHART_BAR_HEIGHT + 4, "bar_height": CHART_BAR_HEIGHT - 6}


def _part_label(code: str) -> str | None:
    return str(_l("No region")) if code == NO_REGION else fanout.region_name(code)


@fanout.fan_out("default", child=simulate_region, assemble=assemble_simulation, permission="policy.simulate",
                done_label=_l("Households"), part_label=_part_label,
                result_template="means_test/_simulation_result.html")
def simulate_national(pack_id: str, changes: dict, pack_text: str | None = None, as_of: str | None = None,
                      language: str = "en", user_id: int | None = None, labels: dict | None = None
                      ) -> list[fanout.Part]:
    """A policy simulation as a tracked job: one part per region, and one for the households outside every region."""
    params = {"pack_id": pack_id, "changes": changes, "pack_text": pack_text, "as_of": as_of, "language": language,
              "user_id": user_id}
    parts = [fanout.Part(key=region.code, title=region.name, params={**params, "region": region.code})
             for region in fanout.regions()]
    return [*parts, fanout.Part(key=NO_REGION, title=str(_l("No region")), params={**params, "region": NO_REGION})]


def start_simulation(user, pack_id: str, changes: dict, pack_text: str | None = None, language: str = "en",
                     labels: dict | None = None) -> str:
    """Queue a policy simulation (checked already: see `simulation.check_inputs`); returns the job's id. `labels`
    names the changed parameters in the user's language on the report."""
    return enqueue(simulate_national, title=_l("Policy simulation"), user=user, pack_id=pack_id, changes=changes,
                   pack_text=pack_text, language=language, user_id=user.id if user is not None else None,
                   labels=labels or {})
