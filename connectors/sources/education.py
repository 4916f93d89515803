"""Education: enrolment as a student (university, college, technical school, lyceum)."""

from connectors.base import Connector
from connectors.sources._lines import statuses


class EducationConnector(Connector):
    source_name = "education"

    def normalize(self, pin, data):
        return statuses(pin, "student", data.get("enrolments"))
