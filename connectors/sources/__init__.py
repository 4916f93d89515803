"""The thirteen registry connectors, one module each; `CONNECTORS` maps source name → class."""

from connectors.sources.cadastre import CadastreConnector
from connectors.sources.civil_registry import CivilRegistryConnector
from connectors.sources.courts import CourtsConnector
from connectors.sources.disability import DisabilityConnector
from connectors.sources.education import EducationConnector
from connectors.sources.employment import EmploymentConnector
from connectors.sources.local_registers import LocalRegistersConnector
from connectors.sources.penitentiary import PenitentiaryConnector
from connectors.sources.pension_fund import PensionFundConnector
from connectors.sources.population import PopulationConnector
from connectors.sources.securities import SecuritiesConnector
from connectors.sources.tax import TaxConnector
from connectors.sources.vehicles import VehiclesConnector

CONNECTORS = {cls.source_name: cls for cls in (
    PopulationConnector, CivilRegistryConnector, TaxConnector, PensionFundConnector, CadastreConnector,
    VehiclesConnector, PenitentiaryConnector, EmploymentConnector, EducationConnector, CourtsConnector,
    DisabilityConnector, SecuritiesConnector, LocalRegistersConnector)}
