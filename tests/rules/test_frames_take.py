"""`rules.frames.take`: the frames of some households evaluate exactly as those households do in the whole."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from rules import frames
from rules.pack import get_pack
from rules.vectorised import evaluate_frames


def _document(i: int, application_date: str) -> dict:
    members = [{"pin": f"3000000000{i:04d}", "relation": "head", "birth_date": "1980-03-15", "sex": "M",
                "income": [{"source": "salary", "month": "2026-08", "amount": 500000.5 * (i + 1)},
                           {"source": "salary", "month": "2026-09", "amount": 0.1 * i}],
                "alimony_paid": [{"month": "2026-09", "amount": 1000.25}] if i % 2 else []},
               {"pin": f"3100000000{i:04d}", "relation": "spouse", "birth_date": "1984-11-02", "sex": "F",
                "statuses": ["employment_registered"] if i % 3 else [], "disability_group": 2 if i == 4 else None}]
    members += [{"pin": f"320000000{i:04d}{k}", "relation": "child", "birth_date": f"201{k}-06-01",
                 "sex": "M" if k % 2 else "F"} for k in range(i % 4)]
    return {"application_date": application_date, "members": members,
            "vehicles": [{"owner_pin": members[0]["pin"], "year": 2018 + i, "kind": "passenger"}] if i % 5 == 0
            else [], "real_estate": [{"owner_pin": members[0]["pin"], "kind": "residential"}] * (1 + i % 2),
            "securities_value": 1000.0 * i}


DOCUMENTS = [_document(i, "2026-11-10" if i % 3 else "2022-05-10") for i in range(12)]


def test_a_subset_evaluates_as_its_rows_of_the_whole():
    whole = frames.from_documents(DOCUMENTS)
    version = get_pack("uz").version_for(date(2026, 11, 10))
    expected = evaluate_frames(whole, version).household
    chosen = np.array([7, 2, 11, 4])
    part = frames.take(whole, chosen)
    assert len(part) == 4
    assert np.bincount(part.members["hid"], minlength=4).tolist() == [
        len(DOCUMENTS[i]["members"]) for i in chosen]
    got = evaluate_frames(part, version).household
    pd.testing.assert_frame_equal(got, expected.iloc[chosen].reset_index(drop=True))
    direct = evaluate_frames(frames.from_documents([DOCUMENTS[i] for i in chosen]), version).household
    pd.testing.assert_frame_equal(got, direct)


def test_one_date_for_all_and_mixed_dates_give_the_same_values():
    """Households of one application date share their date as one number; mixed dates go member by member."""
    version = get_pack("uz").version_for(date(2026, 11, 10))
    same_day = [doc for doc in DOCUMENTS if doc["application_date"] == "2026-11-10"]
    alone = evaluate_frames(frames.from_documents(same_day), version).household
    mixed = evaluate_frames(frames.from_documents(DOCUMENTS), version).household
    rows = [i for i, doc in enumerate(DOCUMENTS) if doc["application_date"] == "2026-11-10"]
    pd.testing.assert_frame_equal(alone, mixed.iloc[rows].reset_index(drop=True))
