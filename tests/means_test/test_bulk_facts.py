"""The latest facts of every assessed household as columns: on PostgreSQL taken apart by the database, elsewhere
by `rules.frames.from_documents`; both must give the frames `from_documents` gives for the same documents."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from modules.means_test import bulk_facts
from modules.means_test.models import Assessment, Decision
from modules.registration.models import Application, ApplicationStatus, Channel
from rules import frames as facts_frames
from rules.pack import get_pack
from rules.vectorised import evaluate_frames
from tests.means_test.conftest import _household
from webapp.extensions import db


def _member(person, relation: str, **fields) -> dict:
    return {"pin": person.pin, "relation": relation, "birth_date": person.birth_date.isoformat(),
            "sex": person.sex.value, **fields}


def _store(home, persons, facts, day: str = "2026-11-10") -> Assessment:
    application = Application(household_id=home.id, applicant_id=persons[0][0].id, area_id=home.area_id,
                              phone="+998901234567", channel=Channel.office, status=ApplicationStatus.decided,
                              is_open=False, period=day[:7])
    db.session.add(application)
    db.session.flush()
    assessment = Assessment(application_id=application.id, household_id=home.id, kind="initial", pack_id="uz",
                            pack_version="2024.06", engine="pandas", as_of=date.fromisoformat(day),
                            decision=Decision.ineligible, per_capita_income=0, monthly_total=0, reasons=[],
                            programmes=[], facts=facts, trace={})
    db.session.add(assessment)
    db.session.flush()
    return assessment


@pytest.fixture
def documents(app):
    """Households whose documents use every field the rules read, in every form the schema allows."""
    stored = {}
    home, persons = _household("UZ-TK", children=2)
    (head, _), (spouse, _), (first, _), (second, _) = persons
    _store(home, persons, {"application_date": "2026-05-10", "members": [_member(head, "head")]}, day="2026-05-10")
    stored["rich"] = _store(home, persons, {
        "application_date": "2026-11-10", "securities_value": 7000000.5,
        "members": [
            _member(head, "head", income=[{"source": "salary", "month": "2026-08", "amount": 1234567.25},
                                          {"source": "salary", "month": "2026-09", "amount": 1234567.25},
                                          {"source": "pension", "month": "2026-10", "amount": 300000},
                                          {"source": "salary", "month": "2025-01", "amount": 999}],
                    alimony_paid=[{"month": "2026-09", "amount": 150000.5}, {"month": "2026-10", "amount": 0.1}],
                    disability_group=2, statuses=[], employment_sector="state"),
            _member(spouse, "spouse", statuses=["employment_registered", "student"], employment_sector="non_state",
                    income=[{"source": "benefit", "month": "2026-10", "amount": 0.3}]),
            _member(first, "child", disability_group="child", statuses=None),
            _member(second, "child", disability_group="3", income=None, alimony_paid=None)],
        "vehicles": [{"owner_pin": head.pin, "year": 2020, "kind": "passenger"},
                     {"owner_pin": head.pin, "year": 2015, "kind": "truck"},
                     {"owner_pin": head.pin, "year": 2023, "kind": "passenger"}],
        "real_estate": [{"owner_pin": head.pin, "kind": "residential"},
                        {"owner_pin": head.pin, "kind": "non_residential"}]})
    home, persons = _household("UZ-SA", children=0, spouse=False)
    stored["plain"] = _store(home, persons, {"application_date": "2022-05-10",
                                             "members": [_member(persons[0][0], "other")]}, day="2022-05-10")
    home, persons = _household("UZ-AN", children=0, spouse=False)
    stored["no_members"] = _store(home, persons, {"application_date": "2026-11-10", "members": []})
    home, persons = _household("UZ-AN", children=0, spouse=False)
    stored["no_date"] = _store(home, persons, {"members": [_member(persons[0][0], "head")]})
    return stored


def _comparable(members: pd.DataFrame) -> pd.DataFrame:
    return members.drop(columns=["pin"]).assign(
        relation=members["relation"].astype(str),
        disability_group=members["disability_group"].astype(object).where(members["disability_group"].notna(), "-")
        .astype(str))


def test_the_bulk_frames_are_those_of_the_documents(documents):
    loaded = bulk_facts.latest_facts("uz")
    usable = [documents["rich"], documents["plain"]]
    expected = facts_frames.from_documents([item.facts for item in usable])

    assert loaded.assessment_id.tolist() == [item.id for item in usable]
    assert loaded.household_id.tolist() == [item.household_id for item in usable]
    assert loaded.application_id.tolist() == [item.application_id for item in usable]
    assert loaded.skipped == 2
    assert loaded.members().tolist() == [4, 1]
    assert loaded.application_days().tolist() == [date(2026, 11, 10), date(2022, 5, 10)]
    got = loaded.frames
    pd.testing.assert_frame_equal(got.households, expected.households, check_dtype=False)
    pd.testing.assert_frame_equal(_comparable(got.members), _comparable(expected.members), check_dtype=False)
    for name in ("income", "vehicles", "real_estate"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), check_dtype=False)
    version = get_pack("uz").version_for(date(2026, 11, 10))
    pd.testing.assert_frame_equal(evaluate_frames(got, version).household,
                                  evaluate_frames(expected, version).household)


def test_a_user_gets_the_households_of_their_areas_only(documents):
    from tests import factories

    user = factories.make_user("analyst", national=False, areas=["UZ-SA"])
    loaded = bulk_facts.latest_facts("uz", user)
    assert loaded.household_id.tolist() == [documents["plain"].household_id]


def test_nobody_assessed_gives_empty_frames(app):
    loaded = bulk_facts.latest_facts("uz")
    assert len(loaded) == 0 and loaded.skipped == 0 and len(loaded.frames.members) == 0
    assert loaded.application_days().tolist() == []
    assert np.array_equal(loaded.members(), np.zeros(0))


def test_a_document_missing_a_number_the_rules_read_is_refused_not_shifted(documents):
    home, persons = _household("UZ-SA", children=0, spouse=False)
    _store(home, persons, {"application_date": "2026-11-10", "members": [_member(persons[0][0], "head")],
                           "vehicles": [{"owner_pin": persons[0][0].pin, "kind": "passenger"}]})
    with pytest.raises((ValueError, KeyError)):
        bulk_facts.latest_facts("uz")
