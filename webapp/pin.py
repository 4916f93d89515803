"""Personal identification numbers per country profile: format, embedded birth date and sex, check digit.

Uzbekistan (PINFL, JShShIR): 14 digits, ``C DDMMYY RRR NNN K`` —
  C   century and sex: 1/2 = 1800s, 3/4 = 1900s, 5/6 = 2000s; odd = male, even = female;
  DDMMYY birth date; RRR issuing district code; NNN serial; K check digit over the first 13 digits with the
  ICAO 9303 weights 7, 3, 1 (sum modulo 10), the scheme of the machine-readable passport zone.
Kyrgyzstan (PIN, ИНН): 14 digits, ``S DDMMYYYY NNNNN`` — S sex (1 = female, 2 = male), full birth date, serial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

_UZ_CENTURY = {"1": (1800, "M"), "2": (1800, "F"), "3": (1900, "M"), "4": (1900, "F"),
               "5": (2000, "M"), "6": (2000, "F")}
_ICAO_WEIGHTS = (7, 3, 1)


class PinError(ValueError):
    """The PIN is malformed; the message says how."""


@dataclass(frozen=True)
class PinInfo:
    birth_date: date
    sex: str


def icao_check_digit(digits: str) -> int:
    return sum(int(d) * _ICAO_WEIGHTS[i % 3] for i, d in enumerate(digits)) % 10


def _date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise PinError(_("the birth date encoded in the PIN is not a real date")) from None


def is_ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() also accepts superscripts and other scripts' digits, which int() then refuses."""
    return text.isascii() and text.isdigit()


def _digits(pin: str) -> str:
    pin = (pin or "").strip()
    if len(pin) != 14 or not is_ascii_digits(pin):
        raise PinError(_("a PIN has exactly 14 digits"))
    return pin


def parse_uz(pin: str) -> PinInfo:
    pin = _digits(pin)
    if pin[0] not in _UZ_CENTURY:
        raise PinError(_("the first digit of a PINFL must be 1 to 6 (century and sex)"))
    century, sex = _UZ_CENTURY[pin[0]]
    birth = _date(century + int(pin[5:7]), int(pin[3:5]), int(pin[1:3]))
    if icao_check_digit(pin[:13]) != int(pin[13]):
        raise PinError(_("the check digit of the PINFL does not match (a digit was mistyped?)"))
    return PinInfo(birth, sex)


def parse_kg(pin: str) -> PinInfo:
    pin = _digits(pin)
    if pin[0] not in "12":
        raise PinError(_("the first digit of a Kyrgyz PIN must be 1 (female) or 2 (male)"))
    birth = _date(int(pin[5:9]), int(pin[3:5]), int(pin[1:3]))
    return PinInfo(birth, "F" if pin[0] == "1" else "M")


PARSERS = {"uz": parse_uz, "kg": parse_kg}


def parse(pin: str, country: str = "uz") -> PinInfo:
    return PARSERS[country](pin)


def make_uz(birth_date: date, sex: str, district: int, serial: int) -> str:
    """Compose a valid PINFL (used by the demo population and tests)."""
    first = {(1800, "M"): "1", (1800, "F"): "2", (1900, "M"): "3", (1900, "F"): "4",
             (2000, "M"): "5", (2000, "F"): "6"}[(birth_date.year // 100 * 100, sex)]
    body = f"{first}{birth_date:%d%m}{birth_date.year % 100:02d}{district % 1000:03d}{serial % 1000:03d}"
    return body + str(icao_check_digit(body))


def _sex_word(sex: str) -> str:
    return _("male") if sex == "M" else _("female")


def check_matches(pin: str, birth_date: date, sex: str, country: str = "uz") -> None:
    """Raise PinError unless the PIN is well-formed and agrees with the person's birth date and sex."""
    info = parse(pin, country)
    if info.birth_date != birth_date:
        raise PinError(_("the PIN encodes birth date %(pin_date)s, the register has %(register_date)s",
                          pin_date=f"{info.birth_date:%d.%m.%Y}", register_date=f"{birth_date:%d.%m.%Y}"))
    if info.sex != sex:
        raise PinError(_("the PIN encodes sex %(pin_sex)s, the register has %(register_sex)s",
                          pin_sex=_sex_word(info.sex), register_sex=_sex_word(sex)))
