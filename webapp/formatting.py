"""Numbers and amounts as the reader's language writes them: its decimal separator, its digit grouping, its name
for the currency. Registered as template filters (`amount`, `money`) and globals (`currency`)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_group_symbol
from flask import current_app
from flask_babel import format_decimal, get_locale, pgettext

from rules.pack import get_pack

# A currency's name is a catalog message, so that each language has its one label for it ("soʻm" in Uzbek,
# "сум" in Russian, "UZS" in English); the code is the message, the context tells translators what it is.
_CURRENCY_NAMES = {"UZS": lambda: pgettext("currency", "UZS"), "KGS": lambda: pgettext("currency", "KGS")}
NUMBER_FORMAT = "#,##0.##"


def currency(code: str | None = None) -> str:
    """The reader's name for a currency (the country's by default); an unknown code is shown as it is."""
    code = code or country_currency()
    name = _CURRENCY_NAMES.get(code)
    return name() if name else code


def country_currency() -> str:
    """The currency of the country's rule pack: what benefits are paid in."""
    return get_pack(current_app.config["COUNTRY"]).currency


def amount(value, digits: int = 2) -> str:
    """An amount with the locale's separators, always with `digits` decimals (0.00 for nothing)."""
    number = Decimal(str(value or 0))
    return _grouped(format_decimal(number, format="#,##0" + ("." + "0" * digits if digits else "")))


def money(value, code: str | None = None, digits: int = 2) -> str:
    """An amount followed by the reader's name of its currency: "1 250 000,00 soʻm"."""
    return f"{amount(value, digits)}\u00a0{currency(code)}"


def number(value) -> str:
    """A count or a rate with the locale's separators, decimals only when there are any."""
    return _grouped(format_decimal(Decimal(str(value if value is not None else 0)), format=NUMBER_FORMAT))


def _grouped(text: str) -> str:
    """Digits grouped by a no-break space in every language, as amounts are written in the region (English's
    comma would read as a decimal separator to a Russian or Uzbek reader); the decimal sign is the locale's."""
    symbol = get_locale_group_symbol()
    return text.replace(symbol, "\u00a0") if symbol else text


def get_locale_group_symbol() -> str:
    return get_group_symbol(get_locale() or "en")


def register(app) -> None:
    app.add_template_filter(amount, "amount")
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_global(currency, "currency")
