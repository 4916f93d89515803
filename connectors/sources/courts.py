"""Courts (enforcement): alimony received, and alimony paid (a deduction from income)."""

from connectors.base import Connector
from connectors.sources._lines import income_lines


class CourtsConnector(Connector):
    source_name = "courts"

    def normalize(self, pin, data):
        return (income_lines(pin, "alimony_received", data.get("alimony_received"))
                + income_lines(pin, "alimony_paid", data.get("alimony_paid")))
