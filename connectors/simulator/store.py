"""The simulator's own database (separate from the registry's): one table per kind of fact a source answers.

Every table is keyed or indexed by PIN so that a simulated source answers "everything about these PINs" with one
indexed lookup. Which source reads which table:

| table            | source(s)                                                                        |
|------------------|----------------------------------------------------------------------------------|
| person           | population register (identity, address), civil registry (parents)                |
| family_link      | population register (household composition: relation to the household head)      |
| household        | population register (address of the household)                                   |
| income           | tax (salary, entrepreneurial), pension fund (pension, benefit), employment        |
|                  | service (unemployment_benefit, public_works), courts (alimony_received),          |
|                  | cadastre/tax (property), securities depository (securities)                       |
| alimony_paid     | courts (deducted from the payer's income)                                          |
| vehicle          | vehicle register                                                                  |
| real_estate      | cadastre                                                                          |
| security_holding | securities depository                                                             |
| status           | education (student), defence (military_service), penitentiary (detention),        |
|                  | local registers (iron_notebook), employment service (employment_registered,       |
|                  | registered_unemployed)                                                            |
| disability       | disability register (group 1/2/3 or child, with the end of the period)            |
| vital_event      | civil registry (birth, death, marriage, divorce)                                  |
| generation       | one row: how the population was generated (seed, households, as_of)               |

Column names avoid SQL keywords (`start_date`, `end_date`, `event_date`, `disability_group`) so hand-written SQL
needs no quoting. On SQLite the tables keyed by PIN are WITHOUT ROWID: clustered on the PIN, so a source's
lookup reads one contiguous range. Money is whole UZS (BigInteger). Works on SQLite and PostgreSQL. Coded columns
take the values of the tuples below; the generator guarantees them (CHECK constraints would triple SQLite's
bulk-load time).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    event,
)

# The registry's instance folder, from the same variable as webapp/config.py: the simulator does not import the app.
INSTANCE_DIR = Path(os.environ.get("SRSP_INSTANCE_DIR", Path(__file__).resolve().parents[2] / "instance"))

INCOME_SOURCES = ("alimony_received", "benefit", "entrepreneurial", "pension", "property", "public_works",
                  "salary", "securities", "unemployment_benefit")
RELATIONS = ("head", "spouse", "child", "parent", "other")
STATUSES = ("student", "military_service", "detention", "iron_notebook", "employment_registered",
            "registered_unemployed")
DISABILITY_GROUPS = ("1", "2", "3", "child")
VEHICLE_KINDS = ("passenger", "truck", "motorcycle")
ESTATE_KINDS = ("residential", "non_residential")
VITAL_EVENTS = ("birth", "death", "marriage", "divorce")

metadata = MetaData()


def _pin(name: str = "pin", nullable: bool = False, **kwargs) -> Column:
    return Column(name, String(14), nullable=nullable, **kwargs)


generation = Table(
    "generation", metadata,
    Column("id", Integer, primary_key=True),
    Column("seed", BigInteger, nullable=False),
    Column("households", Integer, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("areas", Integer, nullable=False),       # number of mahallas the households were spread over
    Column("areas_digest", String(64), nullable=False),
    Column("generator_version", String(16), nullable=False),
    Column("generated_at", DateTime(timezone=True), nullable=False),
)

household = Table(
    "household", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("mahalla", String(32), nullable=False),
    Column("address", String(200), nullable=False),
    Column("urban", Boolean, nullable=False),
    Index("ix_household_mahalla", "mahalla"),
)

person = Table(
    "person", metadata,
    _pin(primary_key=True),
    Column("last_name", String(80), nullable=False),
    Column("first_name", String(80), nullable=False),
    Column("patronymic", String(80)),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),  # M or F
    Column("death_date", Date),
    Column("phone", String(13)),
    Column("mahalla", String(32), nullable=False),
    Column("address", String(200)),
    _pin("father_pin", nullable=True),  # parents where the register knows them (the family: see family_link)
    _pin("mother_pin", nullable=True),
    sqlite_with_rowid=False,
)

# One row per person: `relation` is the person's relation to the household head `related_pin` (the head's own row
# points to itself), as the population register states household composition.
family_link = Table(
    "family_link", metadata,
    _pin(primary_key=True),
    _pin("related_pin"),
    Column("relation", String(8), nullable=False),
    Column("household_id", Integer, nullable=False),
    Index("ix_family_link_household_id", "household_id"),
    sqlite_with_rowid=False,
)

# One line per person, source and month (the primary key is the index on pin).
income = Table(
    "income", metadata,
    _pin(primary_key=True),
    Column("source", String(24), primary_key=True),
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("amount", BigInteger, nullable=False),  # UZS
    sqlite_with_rowid=False,
)

alimony_paid = Table(
    "alimony_paid", metadata,
    Column("id", Integer, primary_key=True),
    _pin(),
    Column("month", String(7), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_alimony_paid_pin", "pin"),
)

vehicle = Table(
    "vehicle", metadata,
    Column("id", Integer, primary_key=True),
    _pin("owner_pin"),
    Column("year", SmallInteger, nullable=False),
    Column("kind", String(12), nullable=False),
    Index("ix_vehicle_owner_pin", "owner_pin"),
)

real_estate = Table(
    "real_estate", metadata,
    Column("id", Integer, primary_key=True),
    _pin("owner_pin"),
    Column("kind", String(16), nullable=False),
    Index("ix_real_estate_owner_pin", "owner_pin"),
)

security_holding = Table(
    "security_holding", metadata,
    Column("id", Integer, primary_key=True),
    _pin("owner_pin"),
    Column("market_value", BigInteger),  # NULL: not traded, the nominal value counts
    Column("nominal_value", BigInteger, nullable=False),
    Index("ix_security_holding_owner_pin", "owner_pin"),
)

status = Table(
    "status", metadata,
    Column("id", Integer, primary_key=True),
    _pin(),
    Column("status", String(24), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),  # NULL: open-ended
    Index("ix_status_pin", "pin"),
)

disability = Table(
    "disability", metadata,
    Column("id", Integer, primary_key=True),
    _pin(),
    Column("disability_group", String(5), nullable=False),
    Column("end_date", Date),  # NULL: indefinite
    Index("ix_disability_pin", "pin"),
)

vital_event = Table(
    "vital_event", metadata,
    Column("id", Integer, primary_key=True),
    _pin(),
    Column("kind", String(8), nullable=False),
    Column("event_date", Date, nullable=False),
    _pin("related_pin", nullable=True),  # birth: the mother; marriage/divorce: the other spouse
    Index("ix_vital_event_pin", "pin"),
    Index("ix_vital_event_kind_date", "kind", "event_date"),
)

# The bank's and the treasury's state (connectors/simulator/finance.py serves them).
bank_account = Table(
    "sim_bank_account", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("pin", String(14), nullable=False),
    Column("name", String(200), nullable=False),
    Column("bank_code", String(5), nullable=False),
    Column("account_number", String(20), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("status_queries", Integer, nullable=False, default=0),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)

payment_file = Table(
    "sim_payment_file", metadata,
    Column("file_id", String(40), primary_key=True),
    Column("message_id", String(35), nullable=False, unique=True),
    Column("format", String(20), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("transactions", Text, nullable=False),  # JSON: [[end_to_end_id, amount, account], ...]
    Column("control_sum", String(24), nullable=False),
)

fund_request = Table(
    "sim_fund_request", metadata,
    Column("reference", String(35), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("total", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("treasury_reference", String(35)),
    Column("reason", String(200)),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


# The population tables, in the order the generator fills them.
POPULATION_TABLES = (household, person, family_link, income, alimony_paid, vehicle, real_estate, security_holding,
                     status, disability, vital_event)


def default_url() -> str:
    """SIMULATOR_DATABASE_URL, else an SQLite file beside the registry's, in its instance folder."""
    return os.environ.get("SIMULATOR_DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'simulator.db'}"


def engine_for(url: str | None = None) -> Engine:
    """An engine on the simulator database; SQLite gets real transactions (DDL included) and a busy timeout."""
    url = url or default_url()
    if url.startswith(("postgres://", "postgresql://")):  # through psycopg 3, the driver we install (as the registry)
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite", "postgresql")):
        raise ValueError(f"unsupported simulator database {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql://")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling skips BEGIN before DDL, so a failed bulk load could leave half a
    # schema; SQLAlchemy's documented recipe: let the driver do nothing and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")


def create_schema(engine: Engine) -> None:
    """Create the tables and indexes that do not exist yet (the bank's and treasury's too)."""
    metadata.create_all(engine)
