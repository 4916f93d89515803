"""The thirteen government sources the Single Registry reads, with their interoperability identifiers.

The legal basis of each pull is the Single Registry's list of data obtained by real-time interagency exchange
(12 items; the population register is the identity backbone every item relies on) under Resolution of the
Cabinet of Ministers No. 308 on the Single Registry of Social Protection. X-Road identifiers follow the
`INSTANCE/CLASS/MEMBER/SUBSYSTEM` scheme; the member codes are placeholders a deployment overrides in its
configuration (`SRSP_SOURCES`), as are the base URLs, which default to the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

X_ROAD_INSTANCE = "UZ"
CLIENT_ID = f"{X_ROAD_INSTANCE}/GOV/SRSP/single-registry"
_BASIS = "Resolution 308 on the Single Registry of Social Protection; data-exchange list item"


@dataclass(frozen=True)
class Source:
    name: str                  # our key: data_pull.source, configuration, the simulator's routes
    title: str                 # the holder and register, for people
    member: str                # X-Road member class/code
    subsystem: str
    service: str               # X-Road service code
    record_kinds: tuple[str, ...]
    legal_basis: str
    protocol: str = "xroad"    # "xroad" or "dci"
    batch: bool = True         # answers for many PINs in one call

    @property
    def service_id(self) -> str:
        return f"{X_ROAD_INSTANCE}/{self.member}/{self.subsystem}/{self.service}"


SOURCES: tuple[Source, ...] = (
    Source("population", "Ministry of Internal Affairs — population register", "GOV/MIA", "population",
           "personInfo", ("identity", "family_link", "address"),
           "Resolution 308 on the Single Registry of Social Protection: identification of applicants by PINFL"),
    Source("civil_registry", "Ministry of Justice — civil registry (ZAGS)", "GOV/MOJ", "civil-registry",
           "vitalEvents", ("vital_event",), f"{_BASIS} 2 (civil status)", protocol="dci"),
    Source("tax", "State Tax Committee — salaries and entrepreneurial income", "GOV/STC", "income",
           "incomeStatements", ("income",), f"{_BASIS} 1 (income)"),
    Source("pension_fund", "Pension Fund — pensions and benefits", "GOV/PF", "payments",
           "pensionsBenefits", ("income",), f"{_BASIS} 4 (pensions and benefits)"),
    Source("cadastre", "Cadastre Agency — real estate", "GOV/CADASTRE", "real-estate",
           "ownership", ("real_estate",), f"{_BASIS} 3 (real estate)"),
    Source("vehicles", "Ministry of Internal Affairs — vehicle register", "GOV/MIA", "vehicles",
           "vehicleOwnership", ("vehicle",), f"{_BASIS} 6 (vehicles)"),
    Source("penitentiary", "Ministry of Internal Affairs — penitentiary system", "GOV/MIA", "penitentiary",
           "detention", ("status",), f"{_BASIS} 7 (family members in prisons)"),
    Source("employment", "Ministry of Employment — unemployment, public works, employment registration",
           "GOV/MOE", "labour", "employmentServices", ("income", "status"),
           f"{_BASIS} 8 (labour authorities' services)"),
    Source("education", "Ministry of Higher Education — students", "GOV/MHE", "students",
           "studentStatus", ("status",), f"{_BASIS} 9 (students)"),
    Source("courts", "Supreme Court — alimony paid and received", "GOV/COURT", "enforcement",
           "alimony", ("income",), f"{_BASIS} 10 (alimony)"),
    Source("disability", "Ministry of Health — disability register", "GOV/MOH", "disability",
           "disabilityGroups", ("status",), f"{_BASIS} 11 (disability group and duration)"),
    Source("securities", "Central Securities Depository — holdings", "GOV/CSD", "holdings",
           "securitiesHoldings", ("securities", "income"), f"{_BASIS} 12 (securities)"),
    Source("local_registers", "Mahalla and Family Ministry — local registers (Iron Notebook)", "GOV/MAHALLA",
           "local-registers", "ironNotebook", ("status",),
           "Resolution 308; social registers kept by mahallas (Iron Notebook) as a vulnerability marker"),
)
BY_NAME = {source.name: source for source in SOURCES}
