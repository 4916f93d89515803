"""Canonical records in plain words for staff pages (the values, not the JSON)."""

from flask_babel import gettext as _


def _word(value: str) -> str:
    """A data value shown as a word (`relation`, `source`…); its translations are marked in webapp/labels.py."""
    return _(value)


def _money(amount) -> str:
    return f"{amount:,.0f}".replace(",", " ") + " UZS"


def record_text(record: dict) -> str:
    kind = record.get("kind")
    if kind == "identity":
        died = f", † {record['death_date']}" if record.get("death_date") else ""
        return f"{record['last_name']} {record['first_name']}, {record['birth_date']}, {record['sex']}{died}"
    if kind == "family_link":
        return _("lives with %(pin)s (%(relation)s)", pin=record["related_pin"], relation=_word(record["relation"]))
    if kind == "address":
        return f"{record['area_code']} {record.get('address') or ''}".strip()
    if kind == "income":
        return f"{record['month']}: {_word(record['source'])} {_money(record['amount'])}"
    if kind == "vehicle":
        return _("vehicle: %(kind)s, %(year)s", kind=_word(record["vehicle_kind"]), year=record["year"])
    if kind == "real_estate":
        return _("real estate: %(kind)s", kind=_word(record["estate_kind"]))
    if kind == "securities":
        value = record["market_value"] if record.get("market_value") is not None else record["nominal_value"]
        return _("securities worth %(value)s", value=_money(value))
    if kind == "status":
        period = f"{record.get('start') or '…'} – {record.get('end') or '…'}"
        group = f" ({record['group']})" if record.get("group") else ""
        return f"{_word(record['status'])}{group}: {period}"
    if kind == "vital_event":
        return f"{_word(record['event'])}: {record['date']}"
    return str(record)
