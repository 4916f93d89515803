"""Pension Fund: pensions and benefits paid, by month."""

from connectors.base import Connector
from connectors.records import IncomeLine

_KINDS = {"pension": "pension", "benefit": "benefit"}


class PensionFundConnector(Connector):
    source_name = "pension_fund"

    def normalize(self, pin, data):
        return [IncomeLine(pin, _KINDS[item["type"]], item["period"], float(item["amount"]))
                for item in data.get("payments") or ()]
