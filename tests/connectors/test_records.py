from datetime import date

import pytest

from connectors import records as r

PIN = "30204850010012"
OTHER = "41509880010028"

GOOD = [
    r.Identity(PIN, "Karimov", "Alisher", date(1985, 4, 2), "M", patronymic="Bobur oʻgʻli"),
    r.FamilyLink(PIN, OTHER, "spouse"),
    r.Address(PIN, "UZ-TK-01-M01", "Navroʻz 5"),
    r.IncomeLine(PIN, "salary", "2026-08", 1_500_000),
    r.IncomeLine(PIN, "alimony_paid", "2026-08", 200_000),
    r.Vehicle(PIN, 2015, "passenger"),
    r.RealEstate(PIN, "residential"),
    r.Securities(PIN, nominal_value=1_000_000, market_value=None),
    r.Status(PIN, "disability", end=date(2027, 1, 1), group="2"),
    r.Status(PIN, "student", start=date(2025, 9, 1)),
    r.VitalEvent(PIN, "marriage", date(2010, 6, 1), related_pin=OTHER),
]


@pytest.mark.parametrize("record", GOOD, ids=lambda record: record.kind)
def test_good_records_validate_and_round_trip_through_json(record):
    assert r.validate([record]) == [record]
    assert r.from_json(r.to_json(record)) == record


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (r.Identity("123", "K", "A", date(1985, 4, 2), "M"), "identity: pin must be 14 digits"),
        (r.Identity(PIN, "", "A", date(1985, 4, 2), "M"), "identity: names are required"),
        (r.Identity(PIN, "K", "A", date(1985, 4, 2), "X"), "identity: sex must be M or F"),
        (r.FamilyLink(PIN, OTHER, "cousin"), "family_link: unknown relation"),
        (r.IncomeLine(PIN, "lottery", "2026-08", 1), "income: unknown income source"),
        (r.IncomeLine(PIN, "salary", "2026-13", 1), "income: month must be YYYY-MM"),
        (r.IncomeLine(PIN, "salary", "2026-08", -5), "income: amount must be a number"),
        (r.Vehicle(PIN, 1850, "passenger"), "vehicle: implausible year"),
        (r.RealEstate(PIN, "castle"), "real_estate: unknown real estate kind"),
        (r.Status(PIN, "disability", group="4"), "status: disability group"),
        (r.Status(PIN, "astronaut"), "status: unknown status"),
        (r.VitalEvent(PIN, "graduation", date(2020, 1, 1)), "vital_event: unknown vital event"),
    ],
)
def test_bad_records_are_refused_naming_kind_and_field(record, message):
    with pytest.raises(r.InvalidRecord, match=message):
        r.validate([record])


def test_securities_count_at_market_value_or_else_nominal():
    assert r.Securities(PIN, nominal_value=100, market_value=250).value == 250
    assert r.Securities(PIN, nominal_value=100).value == 100


def test_status_activity_window():
    status = r.Status(PIN, "student", start=date(2025, 9, 1), end=date(2026, 6, 30))
    assert status.active_on(date(2026, 1, 1)) and not status.active_on(date(2026, 7, 1))


def test_from_json_refuses_unknown_kind_and_bad_dates():
    with pytest.raises(r.InvalidRecord, match="unknown record kind"):
        r.from_json({"kind": "pet", "pin": PIN})
    with pytest.raises(r.InvalidRecord, match="birth_date is not a date"):
        r.from_json({"kind": "identity", "pin": PIN, "last_name": "K", "first_name": "A", "birth_date": "yesterday",
                     "sex": "M"})
