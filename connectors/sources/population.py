"""Population register (MIA): identity, the household registered at the person's address, conscript service."""

from connectors.base import Connector, parse_date
from connectors.records import Address, FamilyLink, Identity
from connectors.sources._lines import statuses


class PopulationConnector(Connector):
    source_name = "population"

    def normalize(self, pin, data):
        records = [Identity(pin, data["surname"], data["given_name"], parse_date(data["birth_date"]), data["gender"],
                            patronymic=data.get("patronymic"), death_date=parse_date(data.get("death_date")))]
        address = data.get("address") or {}
        if address.get("mahalla_code"):
            records.append(Address(pin, address["mahalla_code"], address.get("text")))
        records += [FamilyLink(pin, member["pin"], member["relation"]) for member in data.get("household") or ()
                    if member["pin"] != pin]
        return records + statuses(pin, "military_service", data.get("military_service"))
