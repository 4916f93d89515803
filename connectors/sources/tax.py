"""State Tax Committee: salaries, entrepreneurial and property income by month."""

from connectors.base import Connector
from connectors.sources._lines import income_lines


class TaxConnector(Connector):
    source_name = "tax"

    def normalize(self, pin, data):
        return (income_lines(pin, "salary", data.get("salaries")) + income_lines(pin, "entrepreneurial",
                data.get("entrepreneurial")) + income_lines(pin, "property", data.get("property_income")))
