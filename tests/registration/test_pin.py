"""PINFL (Uzbekistan) and Kyrgyz PIN parsing: format, embedded birth date and sex, ICAO 9303 check digit."""

from __future__ import annotations

from datetime import date

import pytest

from modules.registration.schemas import normalize_phone
from webapp.pin import PinError, check_matches, icao_check_digit, make_uz, parse, parse_kg, parse_uz


def test_icao_check_digit_by_hand():
    # 3 0 2 0 4 8 5 0 0 1 0 0 1 weighted 7 3 1 7 3 1 7 3 1 7 3 1 7: 21+0+2+0+12+8+35+0+0+7+0+0+7 = 92
    assert icao_check_digit("3020485001001") == 2
    assert icao_check_digit("0000000000000") == 0
    assert icao_check_digit("1") == 7
    assert icao_check_digit("11") == 0  # 7 + 3


def test_make_uz_layout():
    assert make_uz(date(1985, 4, 2), "M", 1, 1) == "30204850010012"
    assert make_uz(date(2012, 1, 10), "F", 26, 1234) == "61001120262344"  # 42+3+0+0+3+1+14+0+2+42+6+3+28 = 144


@pytest.mark.parametrize(("birth", "sex", "first"), [
    (date(1899, 12, 31), "M", "1"), (date(1850, 1, 1), "F", "2"),
    (date(1985, 4, 2), "M", "3"), (date(1999, 2, 28), "F", "4"),
    (date(2000, 2, 29), "M", "5"), (date(2024, 11, 5), "F", "6"),
])
def test_round_trip_for_every_century_and_sex(birth, sex, first):
    pin = make_uz(birth, sex, 123, 456)
    assert pin[0] == first and len(pin) == 14
    info = parse_uz(pin)
    assert (info.birth_date, info.sex) == (birth, sex)
    assert parse(pin, "uz") == info


@pytest.mark.parametrize(("pin", "message"), [
    ("3020485001001", "a PIN has exactly 14 digits"),
    ("302048500100123", "a PIN has exactly 14 digits"),
    ("3020485A010012", "a PIN has exactly 14 digits"),
    ("", "a PIN has exactly 14 digits"),
    ("70204850010010", "the first digit of a PINFL must be 1 to 6 (century and sex)"),
    ("00204850010010", "the first digit of a PINFL must be 1 to 6 (century and sex)"),
    ("30204850010013", "the check digit of the PINFL does not match (a digit was mistyped?)"),
])
def test_malformed_pins(pin, message):
    with pytest.raises(PinError) as problem:
        parse_uz(pin)
    assert str(problem.value) == message


@pytest.mark.parametrize("body", ["3320485001001", "3301385001001", "3300285001001", "3290285001001",
                                  "3310485001001", "3000185001001"])
def test_impossible_dates(body):
    pin = body + str(icao_check_digit(body))  # day 32, month 13, month 0, 29 Feb 1985, 31 April, day 0
    with pytest.raises(PinError) as problem:
        parse_uz(pin)
    assert str(problem.value) == "the birth date encoded in the PIN is not a real date"


def test_leap_day_is_a_real_date_in_a_leap_year():
    assert parse_uz(make_uz(date(1988, 2, 29), "F", 1, 1)).birth_date == date(1988, 2, 29)


def test_spaces_around_a_pin_are_ignored():
    assert parse_uz("  30204850010012 ").birth_date == date(1985, 4, 2)


def test_every_single_digit_typo_is_caught():
    pin = make_uz(date(1985, 4, 2), "M", 1, 1)
    for position in range(14):
        for digit in "0123456789":
            if digit == pin[position]:
                continue
            typo = pin[:position] + digit + pin[position + 1:]
            with pytest.raises(PinError):
                parse_uz(typo)


def test_check_matches_accepts_the_register_record():
    check_matches("30204850010012", date(1985, 4, 2), "M")


def test_check_matches_refuses_another_birth_date():
    with pytest.raises(PinError) as problem:
        check_matches("30204850010012", date(1985, 4, 3), "M")
    assert str(problem.value) == "the PIN encodes birth date 02.04.1985, the register has 03.04.1985"


def test_check_matches_refuses_another_sex():
    with pytest.raises(PinError) as problem:
        check_matches("30204850010012", date(1985, 4, 2), "F")
    assert str(problem.value) == "the PIN encodes sex male, the register has female"


def test_kyrgyz_pin():
    info = parse_kg("10204198512345")
    assert (info.birth_date, info.sex) == (date(1985, 4, 2), "F")
    assert parse("20204198512345", "kg").sex == "M"
    with pytest.raises(PinError):
        parse_kg("30204198512345")
    with pytest.raises(PinError):
        parse_kg("13202198512345")


@pytest.mark.parametrize(("raw", "expected"), [
    ("90 123 45 67", "+998901234567"),
    ("901234567", "+998901234567"),
    ("998901234567", "+998901234567"),
    ("+998 90 123-45-67", "+998901234567"),
    ("(90) 123 45 67", "+998901234567"),
    ("12345", "+12345"),
    ("", "+"),
    (None, "+"),
])
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected
