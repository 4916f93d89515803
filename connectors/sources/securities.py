"""Central Securities Depository: holdings (market value, or nominal where not traded) and their income."""

from connectors.base import Connector
from connectors.records import Securities
from connectors.sources._lines import income_lines


class SecuritiesConnector(Connector):
    source_name = "securities"

    def normalize(self, pin, data):
        holdings = [Securities(pin, float(item["nominal_value"]),
                               None if item.get("market_value") is None else float(item["market_value"]))
                    for item in data.get("holdings") or ()]
        return holdings + income_lines(pin, "securities", data.get("income"))
