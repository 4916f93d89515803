"""Synthetic population of Uzbekistan for the registry simulator, deterministic from a seed.

`generate(households, seed, areas, as_of)` builds the whole population with numpy, column by column (no Python
loop over people); `write(engine, population)` bulk-loads it into the simulator's database
(`connectors.simulator.store`) in one transaction: executemany on SQLite (two processes: see LANE_TABLES), COPY on
PostgreSQL, secondary indexes built after the rows. `synthesize` does both. 1.2 million households (~5.7 million
people, ~39 million rows) take about a minute on 2 cores (`python -m bench.synth`).

The same (households, seed, areas in that order, as_of) gives the same rows, on SQLite and PostgreSQL alike, with
the numpy version the project pins (numpy does not promise identical random streams across its versions).

What comes out, in short: households of 1-12 people (mean ~4.8: ~4.3 in towns, ~5.3 in villages) spread over the
mahallas by regional population; families built from the children up (parents always 18+ years older), three
generations under one roof (the kelin and grandchildren; the head's elderly parents); an age pyramid with ~29%
under 15 and ~5% over 65; ~50% men; Uzbek names, patronymics ("Bobur oʻgʻli", "Bobur qizi"), -ov/-ova surnames,
mobile phones; valid PINFLs that encode birth date and sex; 12 months of income by source with ~37% of households
having no formal income at all; pensions from 60 (men) / 55 (women); child allowances and other benefits for
low-income families; cars, homes, shops and (rarely) securities; students, conscripts, detainees, the Iron
Notebook, employment-service registration; disabilities (groups 1-3, and ~1.5% of children); three years of births,
deaths, marriages and divorces.

Every distribution is a named constant below with the reason for its value. Figures are rounded public orders of
magnitude (Statistics Agency of Uzbekistan, World Bank, Pension Fund), good enough for a test population, not
statistics: change them here, in one place.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import signal
import struct
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import Engine, Table, func, insert, inspect, select
from sqlalchemy.schema import CreateTable

from connectors.simulator import store

GENERATOR_VERSION = "1"

# --- Where people live --------------------------------------------------------------------------------------------
# Population by region, thousands, 1 Jan 2024 (Statistics Agency, rounded), and the urban share. Households are spread
# in proportion to population / mean household size, so rural regions with bigger families get fewer households
# per inhabitant. Tashkent city is entirely urban.
REGIONS = {  # ISO 3166-2: (population, urban share)
    "UZ-AN": (3_400, 0.52), "UZ-BU": (2_000, 0.37), "UZ-FA": (4_000, 0.57), "UZ-JI": (1_500, 0.47),
    "UZ-NG": (3_000, 0.64), "UZ-NW": (1_050, 0.50), "UZ-QA": (3_600, 0.43), "UZ-QR": (2_000, 0.49),
    "UZ-SA": (4_200, 0.37), "UZ-SI": (900, 0.43), "UZ-SU": (2_900, 0.36), "UZ-TK": (3_050, 1.00),
    "UZ-TO": (3_000, 0.50), "UZ-XO": (1_950, 0.34),
}
REGION_CODES = sorted(REGIONS)

# --- Household size -------------------------------------------------------------------------------------------------
# Sizes 1..12. Uzbek households are large: about 4.8 people on average, more in villages (multi-generation homes:
# a married son and his wife, the kelin, stay with his parents) than in towns (flats, nuclear families).
SIZE_PMF_URBAN = np.array([.07, .12, .17, .22, .19, .11, .06, .03, .015, .01, .0035, .0015])  # mean ~4.2
SIZE_PMF_RURAL = np.array([.03, .07, .11, .17, .19, .16, .11, .07, .045, .025, .012, .008])   # mean ~5.3

# --- Family structure -----------------------------------------------------------------------------------------------
P_SPOUSE_COUPLE = 0.72     # a 2-person household is a couple, else a parent with a child or an adult child
P_SPOUSE = 0.90            # larger households: the head's spouse is there (widowhood, divorce, labour migration)
P_ONE_PARENT = 0.14        # the head's widowed parent (usually the mother) lives with the family
P_TWO_PARENTS = 0.08       # (the youngest son traditionally stays in his parents' home)
P_WIDOWED_PARENT_FEMALE = 0.72  # women outlive men by about 5 years
P_EXTENDED = 0.80          # households of 4+ children's generation: the eldest son married, his kelin and children
EXTENDED_MIN_REST = 3      # members besides head, spouse and grandparents needed for that (son, kelin, grandchild)
GRAND_YOUNGEST_MAX, GRAND_YOUNGEST_SHAPE = 14.0, 1.5  # youngest grandchild: 14 * U^1.5 years
P_HEAD_MALE_COUPLE = 0.97  # a couple's household is registered to the husband
P_HEAD_MALE_LONE = 0.25    # lone parents are mostly mothers (widows, divorcees, wives of migrants)
P_SINGLE_ELDERLY = 0.65    # one-person households: mostly elderly, mostly widows
P_YOUNG_COUPLE = 0.25      # childless couples: newly-weds, else parents whose children have left
P_BOY = 0.513              # sex ratio at birth ~1.05
P_SON_AT_HOME = 0.65       # grown (19+) children still at home: patrilocal marriage, the population stays ~50% male
# Mother's age at her first birth (mean ~23.5: early marriage is the norm) and the gap between siblings (~2.7 years).
FIRST_BIRTH_MEAN, FIRST_BIRTH_SD = 23.5, 2.8
HUSBAND_OLDER_MEAN, HUSBAND_OLDER_SD = 3.5, 2.5
# Age of the youngest child at home: YOUNGEST_MAX * U^YOUNGEST_SHAPE (decreasing density: families with small
# children are the most common, unmarried adult children stay until they marry). With the rest of this section it
# gives the pyramid of a young, growing country: ~29% under 15, ~9% aged 60+, ~5% 65+, median age 28 (official:
# ~30% under 15, ~5.5% 65+, median ~29).
YOUNGEST_MAX, YOUNGEST_SHAPE = 20.0, 1.7

# --- Deaths and civil events --------------------------------------------------------------------------------------
VITAL_YEARS = 3  # the civil registry's events of the last 3 years are generated (births, deaths, marriages, ...)
# Annual mortality by age (crude death rate ~4.5 per 1000; infant mortality ~12 per 1000). Deaths hit members other
# than the head (the register re-registers a household when its head dies); the dead keep their record with
# death_date and a death event, as in a real population register, so consumers must filter them out.
MORTALITY_AGES = np.array([0, 1, 5, 15, 30, 45, 55, 65, 75, 85])
MORTALITY_RATES = np.array([.012, .001, .0004, .001, .002, .005, .012, .028, .07, .16])
P_DIVORCED_LONE_PARENT = 0.40  # lone parents under 55: divorced rather than widowed

# --- Incomes (UZS per month, 2025 levels; scaled by nominal growth to as_of) ------------------------------------------
NOMINAL_GROWTH = 0.12               # wages, pensions and benefits are indexed roughly with inflation
PRICE_BASE = date(2025, 7, 1)
RETIREMENT_AGE = {"M": 60, "F": 55}
# Households with no income line at all in the 12 months (informal work, remittances of labour migrants): drawn
# among the households without a pensioner or a member with a disability (the pension fund pays those), at the rate
# that makes them this share of all households. The others have at least one formal earner or benefit.
SHARE_NO_FORMAL_INCOME = 0.37
# Wages: log-normal, median 3.8M (mean ~4.5M, the official average wage); villages earn ~20% less.
SALARY_MEDIAN, SALARY_SIGMA, SALARY_RURAL_FACTOR, SALARY_FLOOR = 3_800_000, 0.55, 0.8, 600_000
P_EMPLOYED = {"M": 0.62, "F": 0.36}  # formal employment among working-age adults of households with formal income
P_FULL_YEAR = 0.78                   # the rest work a spell of 3-11 months (seasonal work, job changes, migration)
P_WORKING_PENSIONER = 0.12
P_ENTREPRENEUR = 0.07                # registered individual entrepreneurs / self-employed paying tax
ENTREPRENEUR_MEDIAN, ENTREPRENEUR_SIGMA, P_ENTREPRENEUR_MONTH = 3_000_000, 0.9, 0.7
PENSION_MEDIAN, PENSION_SIGMA, PENSION_FLOOR = 1_900_000, 0.3, 1_050_000  # old-age pension, near-universal
DISABILITY_BENEFIT = {"1": 1_600_000, "2": 1_300_000, "3": 900_000}      # pension fund, for those not pensioned
CAREGIVER_ALLOWANCE = 650_000        # for a parent of a child with a disability (500,000 in April 2022, indexed)
# Child allowance for low-income families, by the number of children under 18 (a family rate, rising less than
# linearly), paid to the mother for a 12-month entitlement period.
CHILD_ALLOWANCE_BASE, CHILD_ALLOWANCE_SCALE = 350_000, (0, 1.0, 1.6, 2.1, 2.6, 3.0, 3.3, 3.5)
P_CHILD_ALLOWANCE = 0.45             # of low-income families with children that have formal income
P_MATERIAL_SUPPORT, MATERIAL_SUPPORT = 0.2, 600_000  # low-income families without children under 18
LOW_INCOME_LINE = 700_000            # per capita per month, ~ the minimum consumption expenditure
P_UNEMPLOYMENT_BENEFIT, UNEMPLOYMENT_BENEFIT = 0.5, 900_000
P_PUBLIC_WORKS, PUBLIC_WORKS_MEDIAN = 0.03, 1_400_000
P_ALIMONY_RECEIVED, ALIMONY_MEDIAN = 0.55, 700_000
P_ALIMONY_PAID = 0.025               # employed men 22-55 paying for children of an earlier marriage: 1/4 of wage
P_RENT_INCOME, RENT_MEDIAN = 0.35, 2_500_000
P_DIVIDEND = 0.5                     # traded holdings paying one dividend a year, ~8% of the market value

# --- Statuses and disability ----------------------------------------------------------------------------------------
P_STUDENT = ((17, 22, 0.32), (23, 24, 0.15))   # higher education enrolment has risen to ~40% of the age group
P_CONSCRIPT = ((18, 21, 0.06), (22, 27, 0.02))  # 12-month conscript service, men only
P_DETENTION = {"M": 0.003, "F": 0.0003}        # adults 18-60 (prison population ~ 0.1% of the population)
P_EMPLOYMENT_REGISTERED = 0.12                 # working-age adults without earnings registered in the national
P_REGISTERED_UNEMPLOYED = 0.35                 # employment system; a third of them with official unemployed status
P_IRON_NOTEBOOK = 0.08                         # of low-income households: the mahalla's "Iron Notebook"
# Disability: ~2.2% of the population; children with disabilities ~1.5% of children; groups 1/2/3 for adults.
P_DISABILITY_ADULT = ((18, 39, 0.012), (40, 59, 0.03), (60, 200, 0.07))
P_DISABILITY_CHILD = 0.015
DISABILITY_GROUP_P = (0.12, 0.58, 0.30)
P_DISABILITY_PERMANENT = {"1": 0.6, "2": 0.4, "3": 0.1}  # else a re-examination date within 2 years

# --- Assets ---------------------------------------------------------------------------------------------------------
# ~40% of households own a car (mostly Chevrolets made in Asaka: many new, many old Nexias and Damas).
P_CAR = {"low": 0.20, "middle": 0.38, "high": 0.60}
P_CAR_NEW = 0.45                     # 0-7 years old, else 8-35 years old
P_SECOND_CAR = {"low": 0.03, "middle": 0.06, "high": 0.15}
P_TRUCK = {True: 0.01, False: 0.03}  # by urban: light trucks (Labo) and tractors-trailers on farms
P_MOTORCYCLE = {True: 0.01, False: 0.04}
P_OWN_HOME = 0.88                    # the household's dwelling is registered to the head (or a grandparent)
P_SECOND_HOME = {"low": 0.03, "middle": 0.06, "high": 0.14}
P_NON_RESIDENTIAL, P_NON_RESIDENTIAL_ENTREPRENEUR = 0.02, 0.25  # shops, workshops, warehouses
P_SECURITIES = {"low": 0.001, "middle": 0.003, "high": 0.012}  # adults 25+; the stock market is small
P_SECURITIES_UNTRADED = 0.4          # no market value: the nominal value counts

# --- Phones ---------------------------------------------------------------------------------------------------------
# Mobile prefixes: Beeline 90/91, Ucell 93/94, Mobiuz 97, Uzmobile 99 (rounded market shares).
PHONE_PREFIXES = np.array([90, 91, 93, 94, 97, 99])
PHONE_SHARES = np.array([.20, .10, .15, .10, .22, .23])
P_PHONE_ADULT, P_PHONE_TEEN = 0.93, 0.35

# --- Names ------------------------------------------------------------------------------------------------------------
MALE = ["Alisher", "Bobur", "Jasur", "Sardor", "Rustam", "Aziz", "Otabek", "Sherzod", "Dilshod", "Farrux", "Javlon",
        "Ulugʻbek", "Bekzod", "Nodir", "Shoxrux", "Akmal", "Anvar", "Temur", "Abdulla", "Islom", "Jahongir", "Sanjar",
        "Oybek", "Doniyor", "Muhammad", "Mirzo", "Husan", "Hasan", "Eldor", "Jamshid", "Zafar", "Komil", "Laziz",
        "Nurali", "Ravshan", "Shavkat", "Sobir", "Tohir", "Umid", "Xurshid", "Yusuf", "Zokir", "Baxtiyor", "Erkin",
        "Ilhom", "Mansur", "Qodir", "Asadbek", "Abdulaziz", "Ibrohim", "Azizbek", "Elyor", "Behruz", "Firdavs",
        "Shahzod", "Samandar", "Yoqub", "Olim", "Botir", "Gʻayrat"]
FEMALE = ["Dilnoza", "Gulnora", "Madina", "Nilufar", "Shahnoza", "Zarina", "Malika", "Feruza", "Kamola", "Sevara",
          "Munisa", "Nodira", "Dildora", "Mohira", "Gulchehra", "Maftuna", "Zuhra", "Lola", "Oydin", "Barno",
          "Dilfuza", "Dilafroʻz", "Gulbahor", "Hulkar", "Iroda", "Komila", "Laylo", "Mavjuda", "Mehribon", "Nargiza",
          "Parizoda", "Rayhon", "Sabina", "Sayyora", "Shoira", "Umida", "Xadicha", "Yulduz", "Zilola", "Muxlisa",
          "Sevinch", "Mohinur", "Robiya", "Oisha", "Asal", "Soliha", "Marjona", "Charos", "Gulnoza", "Nasiba",
          "Nigora", "Ozoda", "Saodat", "Xosiyat", "Muqaddas", "Zebo", "Shahlo", "Manzura", "Dilorom", "Ziyoda"]
# Male forms; a woman's surname adds "a" (Karimov → Karimova, Abdullayev → Abdullayeva).
SURNAMES = ["Karimov", "Rahimov", "Toshmatov", "Yusupov", "Abdullayev", "Xolmatov", "Ergashev", "Nazarov", "Qodirov",
            "Saidov", "Mirzayev", "Rasulov", "Tursunov", "Haydarov", "Jurayev", "Sobirov", "Aliyev", "Umarov",
            "Usmonov", "Ismoilov", "Ibragimov", "Hasanov", "Husanov", "Rustamov", "Sultonov", "Normatov", "Qosimov",
            "Azimov", "Salimov", "Sharipov", "Xudoyberdiyev", "Mahmudov", "Jumayev", "Boboyev", "Ahmedov", "Akbarov",
            "Olimov", "Shukurov", "Fayzullayev", "Nurmatov", "Tojiyev", "Eshonqulov", "Hamroyev", "Valiyev",
            "Mamatov", "Hakimov", "Murodov", "Sodiqov", "Roʻziyev", "Zokirov", "Botirov", "Sattorov", "Islomov",
            "Yoqubov", "Poʻlatov", "Davlatov", "Abdurahmonov", "Qurbonov", "Egamberdiyev", "Raxmatullayev"]
STREETS = ["Navoiy", "Amir Temur", "Mustaqillik", "Bobur", "Mirzo Ulugʻbek", "Istiqlol", "Bunyodkor", "Paxtakor",
           "Yangi hayot", "Bogʻbon", "Guliston", "Doʻstlik", "Tinchlik", "Obod", "Navroʻz", "Sohil", "Bogʻishamol",
           "Furqat", "Muqimiy", "Choʻlpon", "Gʻafur Gʻulom", "Abdulla Qodiriy", "Oybek", "Ibn Sino", "Beruniy",
           "Al-Xorazmiy", "Nurafshon", "Mehnat", "Bahor", "Zarafshon"]
P_FLAT_URBAN = 0.5  # town households in blocks of flats get a flat number

# Person roles inside a household (the register's relation is derived from them).
HEAD, SPOUSE, PARENT, CHILD, KELIN, GRANDCHILD, OTHER = range(7)
ROLE_RELATION = np.array([0, 1, 3, 2, 4, 4, 4])  # index into store.RELATIONS: head spouse child parent other
NO_DATE = np.iinfo(np.int32).min
DAYS_PER_YEAR = 365.2425
EPOCH = date(1970, 1, 1)


def _day(value: date) -> int:
    return (value - EPOCH).days


@dataclass(eq=False)
class TableData:
    """Rows of one simulator table, as columns converted to Python values one batch at a time."""

    table: Table
    rows: int
    columns: list[tuple[str, Callable[[int, int], list]]]

    def batches(self, size: int):
        for start in range(0, self.rows, size):
            stop = min(start + size, self.rows)
            yield stop - start, zip(*(convert(start, stop) for _name, convert in self.columns), strict=True)


@dataclass
class Population:
    households: int
    persons: int
    seed: int
    as_of: date
    areas: list[str]
    tables: dict[str, TableData]
    arrays: dict[str, np.ndarray] = field(repr=False)  # the raw columns, for digest()

    def counts(self) -> dict[str, int]:
        return {name: data.rows for name, data in self.tables.items()}

    @property
    def rows(self) -> int:
        return sum(data.rows for data in self.tables.values())

    def digest(self) -> str:
        """SHA-256 over every generated column: equal digests, equal populations."""
        sha = hashlib.sha256(repr((self.households, self.seed, self.as_of, self.areas)).encode())
        for name in sorted(self.arrays):
            array = np.ascontiguousarray(self.arrays[name])
            sha.update(f"{name}:{array.dtype}:{array.shape}".encode())
            sha.update(array.tobytes() if array.dtype != object else "\x1f".join(map(str, array)).encode())
        return sha.hexdigest()


# ----------------------------------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------------------------------

def generate(households: int, seed: int, areas: Sequence[str], as_of: date) -> Population:
    """Build `households` households over the mahallas `areas` (codes UZ-XX-NN-MNN) as of a date; deterministic."""
    if households < 1:
        raise ValueError("the number of households must be at least 1")
    if seed < 0:
        raise ValueError("the seed must be 0 or more")
    if not areas:
        raise ValueError("no mahallas to place households in: load the areas first")
    if not date(1990, 1, 1) <= as_of <= date(2100, 1, 1):
        raise ValueError(f"as_of {as_of} is outside 1990-2100")
    return _Builder(households, seed, list(areas), as_of).build()


def _district_code(code: str, region: int) -> int:
    """RRR of the PINFL for a mahalla UZ-XX-NN-MNN: region number (1-14) * 50 + district number NN."""
    parts = code.split("-")
    number = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    return ((region + 1) * 50 + number % 50) % 1000


def _band(values: np.ndarray, bands) -> np.ndarray:
    """Probability per value from ((low, high, p), ...) inclusive bands; 0 outside them."""
    p = np.zeros(len(values))
    for low, high, prob in bands:
        p[(values >= low) & (values <= high)] = prob
    return p


class _Builder:
    """One generation run. Steps draw from one generator in a fixed order over arrays whose sizes depend only on the
    inputs, so the same inputs give the same population on any machine (numpy's PCG64 is platform-independent)."""

    def __init__(self, households: int, seed: int, areas: list[str], as_of: date):
        self.H, self.seed, self.areas, self.as_of = households, seed, areas, as_of
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, households, _day(as_of)]))
        self.today = _day(as_of)
        self.price = (1 + NOMINAL_GROWTH) ** ((as_of - PRICE_BASE).days / DAYS_PER_YEAR)
        first = (as_of.year - 1970) * 12 + as_of.month - 1 - 12  # the 12 full calendar months before as_of's month
        self.month_index = np.arange(first, first + 12)
        self.month_start = self.month_index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        self.month_labels = np.datetime_as_string(self.month_index.astype("datetime64[M]"), unit="M").astype(object)
        self.income: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # persons, source, months, amounts
        self.status_rows: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # persons, status, start, end

    def build(self) -> Population:
        for step in (self._households, self._composition, self._ages, self._persons, self._deaths, self._names,
                     self._pins, self._disabilities, self._statuses, self._pensions, self._earnings,
                     self._employment_statuses, self._benefits, self._assets, self._property_income,
                     self._guarantee_formal_income, self._vital_events):
            step()
        return self._population()

    # --- helpers ----------------------------------------------------------------------------------------------------
    def _money(self, median: float, sigma: float, n: int, floor: float = 0) -> np.ndarray:
        """Log-normal amounts at the as_of price level, rounded to 1,000 UZS."""
        values = np.maximum(median * self.rng.lognormal(0.0, sigma, n), floor) * self.price
        return (np.round(values / 1000) * 1000).astype(np.int64)

    def _spell(self, n: int, shortest: int, longest: int) -> np.ndarray:
        """A contiguous run of months inside the 12-month window, as an (n, 12) mask."""
        length = self.rng.integers(shortest, longest + 1, n)
        start = self.rng.integers(0, 13 - length)
        months = np.arange(12)
        return (months >= start[:, None]) & (months < (start + length)[:, None])

    def _add_income(self, persons: np.ndarray, source: str, mask: np.ndarray, amounts: np.ndarray) -> None:
        """Income lines for the (person, month) cells of `mask`; `amounts` per person or per cell."""
        mask = mask & self.alive_in_month[persons]
        rows, months = np.nonzero(mask)
        cell = amounts[rows, months] if amounts.ndim == 2 else amounts[rows]
        self.income.append((persons[rows].astype(np.int32), store.INCOME_SOURCES.index(source),
                            months.astype(np.int8), cell.astype(np.int64)))

    def _add_status(self, persons: np.ndarray, status: str, start: np.ndarray, end: np.ndarray) -> None:
        self.status_rows.append((persons, store.STATUSES.index(status), start, end))

    def _household_any(self, person_mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.hh[person_mask], minlength=self.H) > 0

    # --- households -------------------------------------------------------------------------------------------------
    def _households(self) -> None:
        rng, H = self.rng, self.H
        region = np.array([REGION_CODES.index(code[:5]) if code[:5] in REGIONS else -1 for code in self.areas])
        population = np.array([REGIONS[c][0] for c in REGION_CODES], dtype=float)
        urban_share = np.array([REGIONS[c][1] for c in REGION_CODES])
        sizes = np.arange(1, 13)
        mean_size = urban_share * (SIZE_PMF_URBAN @ sizes) + (1 - urban_share) * (SIZE_PMF_RURAL @ sizes)
        known = region >= 0
        per_region = np.bincount(region[known], minlength=len(REGION_CODES))
        weight = np.ones(len(self.areas))  # codes outside the 14 regions weigh as an average mahalla
        weight[known] = (population / mean_size)[region[known]] / per_region[region[known]]
        if known.any():
            weight[~known] = weight[known].mean()
        # Multinomial then repeat: households come out grouped by mahalla, and so do their ids.
        counts = rng.multinomial(H, weight / weight.sum())
        self.mahalla = np.repeat(np.arange(len(self.areas)), counts).astype(np.int32)
        share = np.where(known, urban_share[np.maximum(region, 0)], 0.5)
        self.urban = rng.random(H) < share[self.mahalla]
        urban_size = rng.choice(sizes, H, p=SIZE_PMF_URBAN / SIZE_PMF_URBAN.sum())
        rural_size = rng.choice(sizes, H, p=SIZE_PMF_RURAL / SIZE_PMF_RURAL.sum())
        self.size = np.where(self.urban, urban_size, rural_size).astype(np.int64)
        district = np.array([_district_code(code, region[i]) for i, code in enumerate(self.areas)], dtype=np.int64)
        self.district = district[self.mahalla]
        self.street = rng.integers(0, len(STREETS), H)
        self.house = rng.integers(1, 160, H)
        self.flat = np.where(self.urban & (rng.random(H) < P_FLAT_URBAN), rng.integers(1, 120, H), 0)

    def _composition(self) -> None:
        """How many spouses, parents, children, kelins and grandchildren each household has (they sum to its size)."""
        rng, H, s = self.rng, self.H, self.size
        self.has_spouse = (s >= 2) & (rng.random(H) < np.where(s == 2, P_SPOUSE_COUPLE, P_SPOUSE))
        rest = s - 1 - self.has_spouse
        u = rng.random(H)
        self.n_par = np.minimum(np.where(u < P_TWO_PARENTS, 2, np.where(u < P_TWO_PARENTS + P_ONE_PARENT, 1, 0)),
                                rest)
        rest = rest - self.n_par
        self.ext = (rest >= EXTENDED_MIN_REST) & (self.n_par == 0) & (rng.random(H) < P_EXTENDED)
        other_children = rng.integers(0, np.maximum(np.minimum(3, rest - 3), 0) + 1)
        self.n_grand = np.where(self.ext, rest - 2 - other_children, 0)
        self.n_child = np.where(self.ext, 1 + other_children, rest)
        # Person slots, in order: head, spouse, parents, children (youngest first), kelin, grandchildren.
        self.start = np.cumsum(s) - s
        self.b_parent = self.start + 1 + self.has_spouse
        self.b_child = self.b_parent + self.n_par
        self.b_kelin = self.b_child + self.n_child
        self.b_grand = self.b_kelin + self.ext
        self.P = int(s.sum())
        self.hh = np.repeat(np.arange(H, dtype=np.int32), s)
        p, hh = np.arange(self.P), self.hh
        self.role = np.select(
            [p == self.start[hh], p < self.b_parent[hh], p < self.b_child[hh], p < self.b_kelin[hh],
             p < self.b_grand[hh]],
            [HEAD, SPOUSE, PARENT, CHILD, KELIN], GRANDCHILD).astype(np.int8)
        self.son = np.where(self.ext, self.b_kelin - 1, -1)  # the married son: the eldest child
        self.kelin = np.where(self.ext, self.b_kelin, -1)

    def _siblings(self, role: int, first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Birth intervals of a sibling group (1.2 + Gamma(2, 0.75) years: ~2.7 on average). Returns each sibling's
        age above the youngest and, per household, the span from the youngest to the eldest."""
        later = (self.role == role) & (np.arange(self.P) > first[self.hh])
        gap = np.where(later, np.minimum(1.2 + self.rng.gamma(2.0, 0.75, self.P), 8.0), 0.0)
        cum = np.cumsum(gap)
        base = cum[np.minimum(first, self.P - 1)]
        span = np.where(count > 0, cum[np.clip(first + count - 1, 0, self.P - 1)] - base, 0.0)
        return np.where(self.role == role, cum - base[self.hh], 0.0), span

    def _ages(self) -> None:
        """Ages are built from the children up, so parents are always old enough for their children."""
        rng, H, hh, normal = self.rng, self.H, self.hh, self.rng.normal
        first_birth = lambda: np.clip(normal(FIRST_BIRTH_MEAN, FIRST_BIRTH_SD, H), 18, 35)  # noqa: E731
        husband_older = lambda: np.clip(normal(HUSBAND_OLDER_MEAN, HUSBAND_OLDER_SD, H), -2, 12)  # noqa: E731
        # Extended households: grandchildren, their mother the kelin, her husband the head's eldest son.
        grand_offset, grand_span = self._siblings(GRANDCHILD, self.b_grand, self.n_grand)
        grand_youngest = GRAND_YOUNGEST_MAX * rng.random(H) ** GRAND_YOUNGEST_SHAPE
        kelin_age = grand_youngest + grand_span + np.clip(normal(21.5, 2.0, H), 18, 30)
        child_offset, child_span = self._siblings(CHILD, self.b_child, self.n_child)
        son_age = np.maximum(kelin_age + np.clip(normal(3.0, 2.0, H), 0, 8), child_span + 0.5)
        youngest = np.where(self.ext, son_age - child_span, YOUNGEST_MAX * rng.random(H) ** YOUNGEST_SHAPE)
        mother = youngest + child_span + first_birth()
        father = mother + husband_older()
        # Childless households: one person (an elderly widow or a young adult), a couple (newly-weds or an empty
        # nest) or a young head living with his or her parents.
        single, has_kids = self.size == 1, self.n_child > 0
        single_elderly = rng.random(H) < P_SINGLE_ELDERLY
        young_couple = rng.random(H) < P_YOUNG_COUPLE
        nokids_age = np.where(single, np.where(single_elderly, 60 + 30 * rng.random(H) ** 1.3, 20 + 25 * rng.random(H)),
                              np.where(self.n_par > 0, 19 + 16 * rng.random(H),
                                       np.where(young_couple, 21 + 11 * rng.random(H),
                                                50 + 35 * rng.random(H) ** 1.2)))
        couple_male = rng.random(H) < P_HEAD_MALE_COUPLE
        lone_male = rng.random(H) < P_HEAD_MALE_LONE
        # Without spouse or children: elderly widows live alone, young adults (more often men) alone or with parents.
        alone_male = rng.random(H) < np.where(single & single_elderly, 0.3, 0.6)
        self.head_male = np.where(self.has_spouse, couple_male, np.where(has_kids, lone_male, alone_male))
        gap = husband_older()
        head_age = np.where(has_kids, np.where(self.head_male, father, mother), nokids_age)
        spouse_age = np.where(has_kids, np.where(self.head_male, mother, father),
                              np.maximum(np.where(self.head_male, head_age - gap, head_age + gap), 18))
        # The head's parents are 20+ years older; a head too old to have living parents has other relatives instead.
        self.relatives = head_age > 62
        mother_of_head = head_age + 20 + 12 * rng.random(H)
        father_of_head = np.maximum(mother_of_head + husband_older(), head_age + 20)
        relative_age = 15 + (head_age - 15) * rng.random(H)
        first_parent = np.arange(self.P) == self.b_parent[hh]
        lone_father = rng.random(H) >= P_WIDOWED_PARENT_FEMALE
        self.parent_male = first_parent & np.where(self.n_par == 2, True, lone_father)[hh]
        parent_age = np.where(self.relatives[hh], relative_age[hh],
                              np.minimum(np.where(self.parent_male, father_of_head[hh], mother_of_head[hh]), 99.5))
        role = self.role
        age = np.select([role == HEAD, role == SPOUSE, role == PARENT, role == CHILD, role == KELIN],
                        [head_age[hh], spouse_age[hh], parent_age, youngest[hh] + child_offset, kelin_age[hh]],
                        grand_youngest[hh] + grand_offset)
        self.age = np.clip(age, 0.0, 99.9)
        self.divorced = ~self.has_spouse & has_kids & (head_age < 55) & (rng.random(H) < P_DIVORCED_LONE_PARENT)
        self.youngest, self.eldest_grand = youngest, grand_youngest + grand_span
        self.recent_couple = ~has_kids & ((self.n_par > 0) | young_couple)

    def _persons(self) -> None:
        rng, hh, role, P = self.rng, self.hh, self.role, self.P
        # Daughters marry out (and become kelins elsewhere), sons stay: grown children at home are mostly sons.
        boy = rng.random(P) < np.where((role == CHILD) & (self.age >= 19), P_SON_AT_HOME, P_BOY)
        other_male = rng.random(P) < 0.5
        male = np.select([role == HEAD, role == SPOUSE, role == PARENT, role == KELIN],
                         [self.head_male[hh], ~self.head_male[hh],
                          np.where(self.relatives[hh], other_male, self.parent_male), False], boy)
        male[self.son[self.ext]] = True
        self.male = male
        self.relation = ROLE_RELATION[role].astype(np.int8)
        self.relation[(role == PARENT) & self.relatives[hh]] = store.RELATIONS.index("other")
        self.birth = (self.today - np.floor(self.age * DAYS_PER_YEAR) - 1).astype(np.int64)
        self.age_years = np.floor((self.today - self.birth) / DAYS_PER_YEAR).astype(np.int64)
        # Parents (person indices, -1 unknown): the head's children, the son's children, the head's own parents.
        head, spouse = self.start, np.where(self.has_spouse, self.start + 1, -1)
        father_of_child = np.where(self.head_male, head, spouse)
        mother_of_child = np.where(self.head_male, spouse, head)
        parents = (self.n_par > 0) & ~self.relatives
        first = self.b_parent
        head_father = np.where(parents & (self.n_par == 2), first,
                               np.where(parents & (self.n_par == 1) & male[np.minimum(first, P - 1)], first, -1))
        head_mother = np.where(parents & (self.n_par == 2), first + 1,
                               np.where(parents & (self.n_par == 1) & ~male[np.minimum(first, P - 1)], first, -1))
        self.father = np.select([role == CHILD, role == GRANDCHILD, role == HEAD],
                                [father_of_child[hh], self.son[hh], head_father[hh]], -1)
        self.mother = np.select([role == CHILD, role == GRANDCHILD, role == HEAD],
                                [mother_of_child[hh], self.kelin[hh], head_mother[hh]], -1)

    def _deaths(self) -> None:
        """Deaths of the last VITAL_YEARS years by age-specific mortality; never the head."""
        rng = self.rng
        rate = MORTALITY_RATES[np.searchsorted(MORTALITY_AGES, self.age, side="right") - 1]
        exposure = np.minimum(VITAL_YEARS, self.age)
        died = (self.role != HEAD) & (rng.random(self.P) < 1 - (1 - rate) ** exposure)
        lived = self.today - self.birth
        offset = np.floor(rng.random(self.P) * np.minimum(VITAL_YEARS * 365, lived)).astype(np.int64)
        self.death = np.where(died, self.today - 1 - offset, NO_DATE)
        self.alive = ~died
        # Paid for the month of death, not after.
        self.alive_in_month = self.alive[:, None] | (self.death[:, None] >= self.month_start[None, :])

    def _names(self) -> None:
        rng, P, hh = self.rng, self.P, self.hh
        self.surname = rng.integers(0, len(SURNAMES), self.H, dtype=np.int16)[hh]
        self.first_name = np.where(self.male, rng.integers(0, len(MALE), P, dtype=np.int16),
                                   len(MALE) + rng.integers(0, len(FEMALE), P, dtype=np.int16)).astype(np.int16)
        # Patronymic: the father's first name where he is in the register's household, else a name of the absent
        # father shared by the household's children.
        absent_father = rng.integers(0, len(MALE), self.H)[hh]
        stranger = rng.integers(0, len(MALE), P)
        known = self.father >= 0
        father_name = np.where(known, self.first_name[np.maximum(self.father, 0)],
                               np.where(self.role == CHILD, absent_father, stranger))
        self.patronymic = (father_name + np.where(self.male, 0, len(MALE))).astype(np.int16)
        # Phones: most adults, a third of teenagers, no small children; none for the dead.
        p_phone = np.where(self.age_years >= 16, P_PHONE_ADULT, np.where(self.age_years >= 12, P_PHONE_TEEN, 0.0))
        has_phone = self.alive & (rng.random(P) < p_phone)
        prefix = PHONE_PREFIXES[rng.choice(len(PHONE_PREFIXES), P, p=PHONE_SHARES)]
        number = 998_00_000_0000 + prefix * 10_000_000 + rng.integers(0, 10_000_000, P)
        self.phone = np.where(has_phone, number, 0)

    def _pins(self) -> None:
        """PINFL `C DDMMYY RRR NNN K`: serials unique within (birth date, sex, RRR), the ICAO 7-3-1 check digit."""
        born = self.birth.astype("datetime64[D]")
        year = (born.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.int32)
        months = born.astype("datetime64[M]")
        month = (months.astype(np.int64) % 12 + 1).astype(np.int32)
        day = ((born - months.astype("datetime64[D]")).astype(np.int64) + 1).astype(np.int32)
        del born, months
        century = (np.select([year < 1900, year < 2000], [1, 3], 5) + np.where(self.male, 0, 1)).astype(np.int32)
        district = self.district[self.hh].astype(np.int32)
        key = (self.birth * 2 + self.male) * 1000 + district
        # Unique sort keys (ties broken by position): the same order whatever sorting algorithm numpy picks.
        order = np.argsort(key * self.P + np.arange(self.P))
        sorted_key = key[order]
        del key
        group_start = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
        group_size = np.diff(np.r_[group_start, self.P])
        del sorted_key
        if group_size.max() > 999:
            raise ValueError("too many people born on one day in one district for 3-digit PIN serials")
        # A random offset per group so serials do not all start at 001.
        offset = np.floor(self.rng.random(len(group_start)) * (1000 - group_size)).astype(np.int64)
        rank = np.arange(self.P) - np.repeat(group_start, group_size)
        serial = np.empty(self.P, dtype=np.int32)
        serial[order] = np.repeat(offset, group_size) + rank
        del order, rank
        yy = year % 100
        parts = (century, day // 10, day % 10, month // 10, month % 10, yy // 10, yy % 10, district // 100,
                 district // 10 % 10, district % 10, serial // 100, serial // 10 % 10, serial % 10)
        body = np.zeros(self.P, dtype=np.int64)
        for digit in parts:
            body = body * 10 + digit
        self.pin = body * 10 + _check_digits(parts)
        self.pin_order = np.argsort(self.pin)
        self.pin_rank = np.empty(self.P, dtype=np.int64)
        self.pin_rank[self.pin_order] = np.arange(self.P)

    # --- disability and statuses ------------------------------------------------------------------------------------
    def _disabilities(self) -> None:
        rng, P, age = self.rng, self.P, self.age_years
        child = age < 18
        p = np.where(child, P_DISABILITY_CHILD, _band(age, P_DISABILITY_ADULT))
        disabled = self.alive & (rng.random(P) < p)
        group = np.where(child, 4, 1 + rng.choice(3, P, p=DISABILITY_GROUP_P))  # 1..3, 4 = "child"
        permanent = rng.random(P) < np.select([group == 1, group == 2], [P_DISABILITY_PERMANENT["1"],
                                              P_DISABILITY_PERMANENT["2"]], P_DISABILITY_PERMANENT["3"])
        review = self.today + rng.integers(30, 730, P)
        adult_18 = _add_years(self.birth, 18)
        end = np.where(child, np.minimum(review, adult_18), np.where(permanent, NO_DATE, review))
        self.disabled = disabled
        self.disability_group = np.where(disabled, group, 0)
        who = np.flatnonzero(disabled)
        self.disability_rows = (who, group[who] - 1, end[who])

    def _statuses(self) -> None:
        """Education, conscript service and detention (they exempt from the work requirement)."""
        rng, P, age, today = self.rng, self.P, self.age_years, self.today
        alive, not_head = self.alive, self.role != HEAD
        self.student = alive & (rng.random(P) < _band(age, P_STUDENT))
        school_year = self.as_of.year - (self.as_of.month < 9)
        entered = school_year - np.minimum(rng.integers(0, 4, P), np.maximum(age - 17, 0))
        who = np.flatnonzero(self.student)
        self._add_status(who, "student", _dates(entered[who], 9, 1), _dates(entered[who] + 4, 6, 30))
        self.conscript = (alive & self.male & not_head & ~self.student
                          & (rng.random(P) < _band(age, P_CONSCRIPT)))
        start = today - rng.integers(0, 365, P)
        who = np.flatnonzero(self.conscript)
        self._add_status(who, "military_service", start[who], start[who] + 365)
        adult = (age >= 18) & (age <= 60)
        self.detained = (alive & adult & not_head & ~self.student & ~self.conscript
                         & (rng.random(P) < np.where(self.male, P_DETENTION["M"], P_DETENTION["F"])))
        start = today - rng.integers(30, 5 * 365, P)
        end = np.where(rng.random(P) < 0.05, NO_DATE, today + rng.integers(30, 8 * 365, P))  # 5%: no release date
        who = np.flatnonzero(self.detained)
        self._add_status(who, "detention", start[who], end[who])

    # --- incomes ----------------------------------------------------------------------------------------------------
    def _pensions(self) -> None:
        """Old-age pensions from the month after reaching 60 (men) or 55 (women); near-universal coverage."""
        retirement = np.where(self.male, RETIREMENT_AGE["M"], RETIREMENT_AGE["F"])
        born_month = self.birth.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        self.retirement_month = born_month + retirement * 12
        candidates = np.flatnonzero(self.retirement_month < self.month_index[-1])
        mask = self.month_index[None, :] > self.retirement_month[candidates, None]
        amounts = self._money(PENSION_MEDIAN, PENSION_SIGMA, len(candidates), PENSION_FLOOR)
        self._add_income(candidates, "pension", mask, amounts)
        pensioned = np.zeros(self.P, dtype=bool)
        pensioned[self.income[-1][0]] = True
        self.pensioned = pensioned
        self.working_age = (self.age_years >= 18) & (self.retirement_month > self.month_index[-1])

    def _earnings(self) -> None:
        """Households with no formal income at all (SHARE_NO_FORMAL_INCOME) are drawn among those without a
        pensioner or a member with a disability (both are paid by the pension fund); the others have earners."""
        rng, P, H = self.rng, self.P, self.H
        eligible = ~self._household_any(self.pensioned) & ~self._household_any(self.disabled)
        q = min(0.95, SHARE_NO_FORMAL_INCOME * H / max(int(eligible.sum()), 1))
        self.informal = eligible & (rng.random(H) < q)
        formal = ~self.informal[self.hh] & self.alive
        able = formal & ~self.conscript & ~self.detained
        p_job = np.where(self.male, P_EMPLOYED["M"], P_EMPLOYED["F"]) * np.where(self.student, 0.25, 1.0)
        employed = able & self.working_age & (rng.random(P) < p_job)
        employed |= able & ~self.working_age & (self.age_years < 70) & (rng.random(P) < P_WORKING_PENSIONER)
        who = np.flatnonzero(employed)
        full = rng.random(len(who)) < P_FULL_YEAR
        months = self._spell(len(who), 3, 11) | full[:, None]
        base = self._money(SALARY_MEDIAN, SALARY_SIGMA, len(who), SALARY_FLOOR)
        base = np.where(self.urban[self.hh[who]], base, np.round(base * SALARY_RURAL_FACTOR, -3)).astype(np.int64)
        monthly = np.round(base[:, None] * (1 + 0.05 * rng.standard_normal((len(who), 12))), -3).astype(np.int64)
        self._add_income(who, "salary", months, monthly)
        self.salary_base = np.zeros(P, dtype=np.int64)
        self.salary_base[who] = base
        # Alimony paid: men of 22-55 paying a quarter of their wage for children of an earlier marriage.
        payer = np.flatnonzero(employed & self.male & (self.age_years >= 22) & (self.age_years <= 55)
                               & (rng.random(P) < P_ALIMONY_PAID))
        payer_months = months[np.searchsorted(who, payer)] & self.alive_in_month[payer]
        rows, cols = np.nonzero(payer_months)
        self.alimony_rows = (payer[rows], cols, np.round(self.salary_base[payer[rows]] / 4, -3).astype(np.int64))
        entrepreneur = able & self.working_age & (rng.random(P) < np.where(employed, 0.02, P_ENTREPRENEUR))
        who = np.flatnonzero(entrepreneur)
        active = rng.random((len(who), 12)) < P_ENTREPRENEUR_MONTH
        base = self._money(ENTREPRENEUR_MEDIAN, ENTREPRENEUR_SIGMA, len(who))
        monthly = np.round(base[:, None] * rng.lognormal(0, 0.3, (len(who), 12)), -3).astype(np.int64)
        self._add_income(who, "entrepreneurial", active, monthly)
        self.entrepreneur = entrepreneur
        self.earner = employed | entrepreneur
        public = able & self.working_age & ~self.earner & ~self.student & (rng.random(P) < P_PUBLIC_WORKS)
        who = np.flatnonzero(public)
        self._add_income(who, "public_works", self._spell(len(who), 1, 4),
                         self._money(PUBLIC_WORKS_MEDIAN, 0.2, len(who)))
        self.earner |= public

    def _employment_statuses(self) -> None:
        """Working-age people without earnings registered with the employment service; some get the benefit."""
        rng, P, today = self.rng, self.P, self.today
        free = self.alive & self.working_age & ~self.earner & ~self.student & ~self.conscript & ~self.detained
        registered = free & (rng.random(P) < P_EMPLOYMENT_REGISTERED)
        unemployed = registered & (rng.random(P) < P_REGISTERED_UNEMPLOYED)
        start = today - rng.integers(7, 540, P)
        who = np.flatnonzero(registered)
        self._add_status(who, "employment_registered", start[who], np.full(len(who), NO_DATE))
        who = np.flatnonzero(unemployed)
        self._add_status(who, "registered_unemployed", start[who], np.full(len(who), NO_DATE))
        paid = np.flatnonzero(unemployed & ~self.informal[self.hh] & (rng.random(P) < P_UNEMPLOYMENT_BENEFIT))
        self._add_income(paid, "unemployment_benefit", self._spell(len(paid), 1, 6),
                         self._money(UNEMPLOYMENT_BENEFIT, 0.15, len(paid)))

    def _formal_income_per_capita(self) -> np.ndarray:
        total = np.zeros(self.H)
        for persons, _source, _months, amounts in self.income:
            total += np.bincount(self.hh[persons], weights=amounts, minlength=self.H)
        members = np.bincount(self.hh[self.alive], minlength=self.H)
        return total / 12 / np.maximum(members, 1)

    def _benefits(self) -> None:
        """Pension-fund benefits ('benefit'), alimony received and the Iron Notebook, by household need."""
        rng, H, hh = self.rng, self.H, self.hh
        per_capita = self._formal_income_per_capita()
        line = LOW_INCOME_LINE * self.price
        self.low_income = per_capita < line
        self.band = np.where(self.low_income, 0, np.where(per_capita < 3 * line, 1, 2))
        formal = ~self.informal
        minor = self.alive & (self.age_years < 18)
        minors = np.bincount(hh[minor], minlength=H)
        # The payee of family benefits: the mother (female head or wife), else the head.
        mother = np.where(~self.head_male, self.start, np.where(self.has_spouse, self.start + 1, self.start))
        mother = np.where(self.alive[mother], mother, self.start)
        allowance = formal & self.low_income & (minors > 0) & (rng.random(H) < P_CHILD_ALLOWANCE)
        families = np.flatnonzero(allowance)
        scale = np.array(CHILD_ALLOWANCE_SCALE)[np.minimum(minors[families], len(CHILD_ALLOWANCE_SCALE) - 1)]
        amount = np.round(CHILD_ALLOWANCE_BASE * scale * self.price, -3).astype(np.int64)
        started = rng.integers(-11, 12, len(families))  # a 12-month entitlement overlapping the window
        months = (np.arange(12) >= started[:, None]) & (np.arange(12) < started[:, None] + 12)
        self._add_income(mother[families], "benefit", months, amount)
        support = np.flatnonzero(formal & self.low_income & (minors == 0) & (rng.random(H) < P_MATERIAL_SUPPORT))
        self._add_income(self.start[support], "benefit", self._spell(len(support), 6, 6),
                         np.full(len(support), round(MATERIAL_SUPPORT * self.price, -3), dtype=np.int64))
        disabled_children = np.bincount(hh[self.disabled & (self.disability_group == 4)], minlength=H)
        carers = np.flatnonzero(disabled_children > 0)
        self._add_income(mother[carers], "benefit", np.ones((len(carers), 12), dtype=bool),
                         np.round(CAREGIVER_ALLOWANCE * self.price * disabled_children[carers], -3).astype(np.int64))
        adults = np.flatnonzero(self.disabled & (self.disability_group < 4) & ~self.pensioned)
        by_group = np.array([0] + [DISABILITY_BENEFIT[g] for g in "123"])[self.disability_group[adults]]
        self._add_income(adults, "benefit", np.ones((len(adults), 12), dtype=bool),
                         np.round(by_group * self.price, -3).astype(np.int64))
        receiving = np.flatnonzero(formal & self.divorced & (minors > 0) & (rng.random(H) < P_ALIMONY_RECEIVED))
        self._add_income(self.start[receiving], "alimony_received", rng.random((len(receiving), 12)) < 0.8,
                         self._money(ALIMONY_MEDIAN, 0.4, len(receiving)))
        notebook = np.flatnonzero(self.low_income & (rng.random(H) < P_IRON_NOTEBOOK))
        self._add_status(self.start[notebook], "iron_notebook", self.today - rng.integers(14, 730, len(notebook)),
                         np.full(len(notebook), NO_DATE))

    # --- assets -----------------------------------------------------------------------------------------------------
    def _assets(self) -> None:
        rng, H, hh, band = self.rng, self.H, self.hh, self.band
        head = self.start
        spouse_or_head = np.where(self.has_spouse & self.alive[np.minimum(self.start + 1, self.P - 1)],
                                  self.start + 1, head)
        by_band = lambda table: np.array([table["low"], table["middle"], table["high"]])[band]  # noqa: E731
        car = rng.random(H) < by_band(P_CAR)
        second = car & (rng.random(H) < by_band(P_SECOND_CAR))
        truck = rng.random(H) < np.where(self.urban, P_TRUCK[True], P_TRUCK[False])
        moto = rng.random(H) < np.where(self.urban, P_MOTORCYCLE[True], P_MOTORCYCLE[False])
        car_owner = np.where(rng.random(H) < 0.85, head, spouse_or_head)
        owners = np.concatenate([car_owner[car], head[second], head[truck], head[moto]])
        kinds = np.concatenate([np.zeros(car.sum() + second.sum(), dtype=np.int64), np.ones(truck.sum(), np.int64),
                                np.full(moto.sum(), 2, np.int64)])
        age = np.where(rng.random(len(owners)) < P_CAR_NEW, rng.integers(0, 8, len(owners)),
                       rng.integers(8, 36, len(owners)))
        self.vehicle_rows = (owners, self.as_of.year - age, kinds)
        # Real estate: the home (the head's, or a grandparent's), a second dwelling, non-residential property.
        grandparent = np.where((self.n_par > 0) & ~self.relatives & (rng.random(H) < 0.5), self.b_parent, head)
        home = rng.random(H) < P_OWN_HOME
        second_home = rng.random(H) < by_band(P_SECOND_HOME)
        firm = self._household_any(self.entrepreneur)
        non_res = rng.random(H) < np.where(firm, P_NON_RESIDENTIAL_ENTREPRENEUR, P_NON_RESIDENTIAL)
        first_entrepreneur = np.full(H, self.P)
        np.minimum.at(first_entrepreneur, hh[self.entrepreneur], np.flatnonzero(self.entrepreneur))
        non_res_owner = np.where(firm, first_entrepreneur, head)
        owners = np.concatenate([grandparent[home], head[second_home], non_res_owner[non_res]])
        kinds = np.concatenate([np.zeros(home.sum() + second_home.sum(), np.int64), np.ones(non_res.sum(), np.int64)])
        self.estate_rows = (owners, kinds)
        self.landlord = np.zeros(H, dtype=bool)
        self.landlord[second_home | non_res] = True
        self.landlord_owner = np.where(second_home, head, non_res_owner)
        holder = self.alive & (self.age_years >= 25) & (rng.random(self.P) < by_band(P_SECURITIES)[hh])
        who = np.flatnonzero(holder)
        nominal = np.round(3_000_000 * rng.lognormal(0, 1.2, len(who)) * self.price, -3).astype(np.int64)
        market = np.where(rng.random(len(who)) < P_SECURITIES_UNTRADED, -1,
                          np.round(nominal * rng.lognormal(0, 0.6, len(who)), -3)).astype(np.int64)
        self.security_rows = (who, market, nominal)

    def _property_income(self) -> None:
        rng = self.rng
        formal = ~self.informal
        renting = np.flatnonzero(self.landlord & formal & (rng.random(self.H) < P_RENT_INCOME))
        self._add_income(self.landlord_owner[renting], "property", np.ones((len(renting), 12), dtype=bool),
                         self._money(RENT_MEDIAN, 0.5, len(renting)))
        holders, market, _nominal = self.security_rows
        paying = (market > 0) & formal[self.hh[holders]] & (rng.random(len(holders)) < P_DIVIDEND)
        month = rng.integers(3, 8, len(holders))  # dividends are paid after the spring general meetings
        mask = np.arange(12)[None, :] == ((month - self.month_index[0] % 12) % 12)[:, None]
        amount = np.maximum(np.round(market * 0.08, -3), 1000).astype(np.int64)
        self._add_income(holders[paying], "securities", mask[paying], amount[paying])

    def _guarantee_formal_income(self) -> None:
        """A household not drawn as informal must have formal income: its head then has a full-year wage."""
        with_income = np.zeros(self.H, dtype=bool)
        for persons, _source, _months, _amounts in self.income:
            with_income[self.hh[persons]] = True
        lacking = np.flatnonzero(~self.informal & ~with_income)
        heads = self.start[lacking]
        base = self._money(SALARY_MEDIAN, SALARY_SIGMA, len(heads), SALARY_FLOOR)
        self._add_income(heads, "salary", np.ones((len(heads), 12), dtype=bool), base)

    # --- civil registry ---------------------------------------------------------------------------------------------
    def _vital_events(self) -> None:
        """Civil-registry events of the last VITAL_YEARS years: births (with the mother), deaths, marriages (one
        event per spouse) and divorces of lone parents. Marriage dates follow the family: about a year before the
        first child, recently for newly-weds, decades ago for empty nests; never before both spouses were 18."""
        rng, H, P, today = self.rng, self.H, self.P, self.today
        since = today - VITAL_YEARS * 365
        born = np.flatnonzero(self.birth >= since)
        dead = np.flatnonzero(~self.alive)
        age = self.age
        head, spouse = self.start, np.minimum(self.start + 1, P - 1)
        eldest_child = age[np.clip(self.b_kelin - 1, 0, P - 1)]
        both_adult = np.minimum(age[head], age[spouse]) - 18
        married_years = np.where(self.n_child > 0, eldest_child + 0.75 + 1.75 * rng.random(H),
                                 np.where(self.recent_couple, 6 * rng.random(H), both_adult - 3 * rng.random(H)))
        married = today - np.floor(np.clip(married_years, 0, both_adult) * DAYS_PER_YEAR).astype(np.int64)
        couples = np.flatnonzero(self.has_spouse & (married >= since))
        son, kelin = np.maximum(self.son, 0), np.maximum(self.kelin, 0)
        son_years = np.clip(self.eldest_grand + 0.75 + 1.75 * rng.random(H), 0,
                            np.minimum(age[son], age[kelin]) - 18)
        son_married = today - np.floor(son_years * DAYS_PER_YEAR).astype(np.int64)
        sons = np.flatnonzero(self.ext & (son_married >= since))
        first = np.concatenate([head[couples], son[sons]])
        second = np.concatenate([head[couples] + 1, kelin[sons]])
        wed = np.concatenate([married[couples], son_married[sons]])
        divorce = today - 1 - np.floor(self.youngest * rng.random(H) * DAYS_PER_YEAR).astype(np.int64)
        divorces = np.flatnonzero(self.divorced & (divorce >= since))
        persons = np.concatenate([born, dead, first, second, head[divorces]])
        kinds = np.concatenate([np.zeros(len(born), np.int64), np.ones(len(dead), np.int64),
                                np.full(2 * len(first), 2, np.int64), np.full(len(divorces), 3, np.int64)])
        dates = np.concatenate([self.birth[born], self.death[dead], wed, wed, divorce[divorces]])
        related = np.concatenate([self.mother[born], np.full(len(dead), -1), second, first,
                                  np.full(len(divorces), -1)])
        self.vital_rows = (persons, kinds, dates, related)

    # --- tables -----------------------------------------------------------------------------------------------------
    def _population(self) -> Population:
        """The rows of every table, sorted by PIN (loading in index order is faster), as lazily converted columns."""
        arrays: dict[str, np.ndarray] = {"pin": self.pin}
        tables: dict[str, TableData] = {}
        # One string per PIN, shared by every table; -1 (no person) picks the trailing None.
        pin_labels = np.empty(self.P + 1, dtype=object)
        pin_labels[: self.P] = self.pin.astype("U14")
        pin_labels[self.P] = None

        def add(table: Table, columns: list[tuple[str, str, np.ndarray, object]]) -> None:
            for name, _kind, values, _labels in columns:
                arrays[f"{table.name}.{name}"] = values
            converters = [(name, _converter(kind, values, pin_labels if kind == "pin" else labels))
                          for name, kind, values, labels in columns]
            tables[table.name] = TableData(table, len(columns[0][2]), converters)

        def by_pin(persons: np.ndarray, *more: np.ndarray) -> np.ndarray:
            return np.lexsort(tuple(reversed((self.pin_rank[persons], *more))))

        address = self._addresses()
        add(store.household, [("id", "int", np.arange(1, self.H + 1), None),
                              ("mahalla", "cat", self.mahalla, self.areas),
                              ("address", "str", address, None), ("urban", "bool", self.urban, None)])
        o = self.pin_order
        hh = self.hh[o]
        add(store.person, [
            ("pin", "pin", o, None),
            ("last_name", "cat", self.surname[o] * 2 + ~self.male[o], _surname_forms()),
            ("first_name", "cat", self.first_name[o], MALE + FEMALE),
            ("patronymic", "cat", self.patronymic[o], _patronymics()),
            ("birth_date", "date", self.birth[o], None),
            ("sex", "cat", (~self.male[o]).astype(np.int8), ("M", "F")),
            ("death_date", "date", self.death[o], None),
            ("phone", "phone", self.phone[o], None),
            ("mahalla", "cat", self.mahalla[hh], self.areas),
            ("address", "cat", hh, address),
            ("father_pin", "pin", self.father[o], None),
            ("mother_pin", "pin", self.mother[o], None)])
        add(store.family_link, [("pin", "pin", o, None), ("related_pin", "pin", self.start[hh], None),
                                ("relation", "cat", self.relation[o], store.RELATIONS),
                                ("household_id", "int", hh + 1, None)])
        persons, source, month, amount = self._income_lines()
        add(store.income, [("pin", "pin", persons, None), ("source", "cat", source, store.INCOME_SOURCES),
                           ("month", "cat", month, self.month_labels), ("amount", "int", amount, None)])
        persons, month, amount = self.alimony_rows
        o = by_pin(persons, month)
        add(store.alimony_paid, [("pin", "pin", persons[o], None), ("month", "cat", month[o], self.month_labels),
                                 ("amount", "int", amount[o], None)])
        persons, year, kind = self.vehicle_rows
        o = by_pin(persons, kind)
        add(store.vehicle, [("owner_pin", "pin", persons[o], None), ("year", "int", year[o], None),
                            ("kind", "cat", kind[o], store.VEHICLE_KINDS)])
        persons, kind = self.estate_rows
        o = by_pin(persons, kind)
        add(store.real_estate, [("owner_pin", "pin", persons[o], None), ("kind", "cat", kind[o], store.ESTATE_KINDS)])
        persons, market, nominal = self.security_rows
        o = by_pin(persons)
        add(store.security_holding, [("owner_pin", "pin", persons[o], None),
                                     ("market_value", "int_or_null", market[o], None),
                                     ("nominal_value", "int", nominal[o], None)])
        persons, status, start, end = (np.concatenate(parts) for parts in zip(*(
            (rows[0], np.full(len(rows[0]), rows[1]), rows[2], rows[3]) for rows in self.status_rows), strict=True))
        o = by_pin(persons, status)
        add(store.status, [("pin", "pin", persons[o], None), ("status", "cat", status[o], store.STATUSES),
                           ("start_date", "date", start[o], None), ("end_date", "date", end[o], None)])
        persons, group, end = self.disability_rows
        o = by_pin(persons)
        add(store.disability, [("pin", "pin", persons[o], None),
                               ("disability_group", "cat", group[o], store.DISABILITY_GROUPS),
                               ("end_date", "date", end[o], None)])
        persons, kind, when, related = self.vital_rows
        o = by_pin(persons, kind, when)
        add(store.vital_event, [("pin", "pin", persons[o], None), ("kind", "cat", kind[o], store.VITAL_EVENTS),
                                ("event_date", "date", when[o], None), ("related_pin", "pin", related[o], None)])
        return Population(self.H, self.P, self.seed, self.as_of, self.areas, tables, arrays)

    def _income_lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All income lines by PIN, source and month; several benefits to one person in one month are one line."""
        benefit = store.INCOME_SOURCES.index("benefit")
        parts = [rows for rows in self.income if rows[1] != benefit]
        persons = np.concatenate([rows[0] for rows in self.income if rows[1] == benefit])
        months = np.concatenate([rows[2] for rows in self.income if rows[1] == benefit])
        amounts = np.concatenate([rows[3] for rows in self.income if rows[1] == benefit])
        cell, inverse = np.unique(persons.astype(np.int64) * 12 + months, return_inverse=True)
        parts.append(((cell // 12).astype(np.int32), benefit, (cell % 12).astype(np.int8),
                      np.bincount(inverse, weights=amounts).astype(np.int64)))
        self.income = []
        persons = np.concatenate([rows[0] for rows in parts])
        source = np.concatenate([np.full(len(rows[0]), rows[1], dtype=np.int8) for rows in parts])
        month = np.concatenate([rows[2] for rows in parts])
        amount = np.concatenate([rows[3] for rows in parts])
        del parts
        key = (self.pin_rank[persons] << 8) | (source.astype(np.int64) << 4) | month
        order = np.argsort(key)
        key = key[order]
        if (key[1:] == key[:-1]).any():
            raise AssertionError("two income lines for one person, source and month")
        del key
        return persons[order], source[order], month[order], amount[order]

    def _addresses(self) -> np.ndarray:
        street = np.array([f"{name} koʻchasi, " for name in STREETS], dtype=object)[self.street]
        return np.array([f"{s}{house}-uy" + (f", {flat}-xonadon" if flat else "")
                         for s, house, flat in zip(street.tolist(), self.house.tolist(), self.flat.tolist(),
                                                   strict=True)], dtype=object)


def _check_digits(digits) -> np.ndarray:
    """ICAO 9303 check digit (weights 7, 3, 1 over the 13 digits, modulo 10), as webapp.pin.icao_check_digit."""
    total = np.zeros(len(digits[0]), dtype=np.int32)
    for position, digit in enumerate(digits):
        total += digit * (7, 3, 1)[position % 3]
    return total % 10


def _dates(years: np.ndarray, month: int, day: int) -> np.ndarray:
    """Day numbers of a fixed month and day in each year."""
    return ((years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)).astype(
        "datetime64[D]").astype(np.int64) + day - 1


def _add_years(days: np.ndarray, years: int) -> np.ndarray:
    """The date `years` later (29 February becomes 1 March), as day numbers."""
    born = days.astype("datetime64[D]")
    month = born.astype("datetime64[M]")
    day_of_month = (born - month.astype("datetime64[D]")).astype(np.int64)
    target = (month + 12 * years).astype("datetime64[D]") + day_of_month
    return target.astype(np.int64)


def _surname_forms() -> list[str]:
    return [form for name in SURNAMES for form in (name, name + "a")]


def _patronymics() -> list[str]:
    return [f"{name} oʻgʻli" for name in MALE] + [f"{name} qizi" for name in MALE]


def _converter(kind: str, values: np.ndarray, labels) -> Callable[[int, int], list]:
    """Turn a numpy column into Python values for the database driver, one batch at a time."""
    if kind in ("int", "bool", "str"):
        return lambda a, b: values[a:b].tolist()
    if kind == "int_or_null":  # -1 = NULL
        return lambda a, b: [None if v < 0 else v for v in values[a:b].tolist()]
    if kind in ("cat", "pin"):  # codes into labels; for PINs, person indices into the shared PIN strings
        labels = labels if isinstance(labels, np.ndarray) else np.array(list(labels), dtype=object)
        return lambda a, b: labels[values[a:b]].tolist()
    if kind == "phone":  # 0 = NULL
        def phones(a, b):
            chunk = values[a:b]
            text = np.char.add("+", chunk.astype("U12")).astype(object)
            text[chunk == 0] = None
            return text.tolist()
        return phones
    if kind == "date":  # day numbers since 1970-01-01, NO_DATE = NULL; the strings come from a lookup table
        present = values[values != NO_DATE]
        low, high = (int(present.min()), int(present.max())) if len(present) else (0, 0)
        days = np.datetime_as_string(np.arange(low, high + 1).astype("datetime64[D]")).astype(object)
        table = np.append(days, None)
        index = np.where(values == NO_DATE, len(table) - 1, values - low)
        return lambda a, b: table[index[a:b]].tolist()
    raise ValueError(f"unknown column kind {kind!r}")


# ----------------------------------------------------------------------------------------------------------------------
# Writing to the simulator's database
# ----------------------------------------------------------------------------------------------------------------------

BATCH_ROWS = 100_000
# SQLite has one writer per file, so on SQLite a forked helper process converts and writes these tables into a side
# file while the main process writes the others; SQLite then copies them in (C speed) within the main transaction.
# That puts the second core to work on the Python-side conversion, which dominates the load.
LANE_TABLES = ("income", "family_link")
PARALLEL_MIN_ROWS = 2_000_000


class PopulationExists(RuntimeError):
    """The simulator database already holds a population and replacing it was not asked for."""


class NotASimulatorDatabase(ValueError):
    """The target is a migrated database (the registry's), whose person and household tables must not be touched."""


def existing_persons(engine: Engine) -> int | None:
    """Persons in the simulator database, or None when it has no population tables; NotASimulatorDatabase if the
    engine points at the registry's database."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        if inspector.has_table("alembic_version"):
            raise NotASimulatorDatabase("this is a migrated database (the registry's?), not a simulator database: "
                                        "use a separate one")
        if not inspector.has_table(store.person.name):
            return None
        return conn.scalar(select(func.count()).select_from(store.person))


def write(engine: Engine, population: Population, replace: bool = False,
          progress: Callable[[int], None] | None = None, batch_rows: int = BATCH_ROWS,
          parallel: bool | None = None) -> dict[str, int]:
    """Load the population into the simulator database in one transaction; indexes are built after the rows.

    SQLite: executemany with synchronous=OFF and an in-memory journal for the load (a crash mid-load can leave the
    file unusable: regenerate it), the LANE_TABLES written by a forked helper process when `parallel` (default: for
    big populations in a database file). PostgreSQL: COPY. Refuses (PopulationExists) to overwrite a population unless
    `replace`, and always refuses the registry's database (NotASimulatorDatabase); a failure rolls everything back."""
    progress = progress or (lambda _rows: None)
    existing_persons(engine)  # refuses the registry's database before anything is changed
    sqlite = engine.dialect.name == "sqlite"
    database = engine.url.database if sqlite else None
    if parallel is None:
        parallel = population.rows >= PARALLEL_MIN_ROWS
    parallel = parallel and sqlite and hasattr(os, "fork") and database not in (None, "", ":memory:")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        saved = _sqlite_bulk_pragmas(raw) if sqlite else {}
        lane = None
        try:
            if parallel:
                lane = _Lane(raw, f"{database}.lane-{os.getpid()}")
            with conn.begin():
                _reset_tables(conn, replace)
                lanes = [data for data in population.tables.values() if lane and data.table.name in LANE_TABLES]
                report = progress
                if lane:
                    lane.start(lanes, batch_rows)
                    report = lambda rows: progress(rows + lane.poll())  # noqa: E731
                for data in population.tables.values():
                    if any(data is other for other in lanes):
                        continue
                    if sqlite:
                        _insert_sqlite(raw, data, batch_rows, report)
                    else:
                        _copy_postgresql(raw, data, batch_rows, progress)
                if lane:
                    lane.finish(progress)
                for table in (*store.POPULATION_TABLES, store.generation):
                    for index in sorted(table.indexes, key=lambda index: index.name):
                        index.create(conn)
                conn.execute(insert(store.generation).values(
                    id=1, seed=population.seed, households=population.households, persons=population.persons,
                    as_of=population.as_of, areas=len(population.areas),
                    areas_digest=hashlib.sha256("\n".join(population.areas).encode()).hexdigest(),
                    generator_version=GENERATOR_VERSION, generated_at=datetime.now(UTC)))
        finally:
            if lane:
                lane.close()
            for pragma, value in saved.items():
                raw.execute(f"PRAGMA {pragma} = {value}")
    return population.counts()


def _reset_tables(conn, replace: bool) -> None:
    if inspect(conn).has_table("alembic_version"):  # the registry's tables share names with ours: never drop them
        raise NotASimulatorDatabase("this is a migrated database (the registry's?), not a simulator database")
    if inspect(conn).has_table(store.person.name):
        persons = conn.scalar(select(func.count()).select_from(store.person))
        if persons and not replace:
            raise PopulationExists(f"the simulator database already holds a population ({persons} persons): "
                                   "pass --replace to regenerate it")
    for table in reversed((store.generation, *store.POPULATION_TABLES)):
        table.drop(conn, checkfirst=True)
    for table in (store.generation, *store.POPULATION_TABLES):
        conn.execute(CreateTable(table))  # without its indexes: they are built once the rows are in


def _sqlite_bulk_pragmas(raw) -> dict[str, object]:
    """Set the bulk-load pragmas on this connection; returns the previous values to restore."""
    bulk = {"synchronous": "OFF", "journal_mode": "MEMORY", "cache_size": -262_144}  # 256 MB page cache
    saved = {pragma: raw.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in bulk}
    for pragma, value in bulk.items():
        raw.execute(f"PRAGMA {pragma} = {value}")
    return saved


def _insert_sqlite(raw, data: TableData, batch_rows: int, progress, name: str | None = None) -> None:
    names = [column for column, _convert in data.columns]
    sql = f"INSERT INTO {name or data.table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    cursor = raw.cursor()
    for count, rows in data.batches(batch_rows):
        cursor.executemany(sql, rows)
        progress(count)
    cursor.close()


def _copy_postgresql(raw, data: TableData, batch_rows: int, progress) -> None:
    names = ", ".join(name for name, _convert in data.columns)
    with raw.cursor() as cursor, cursor.copy(f"COPY {data.table.name} ({names}) FROM STDIN") as copy:
        for count, rows in data.batches(batch_rows):
            for row in rows:
                copy.write_row(row)
            progress(count)


class _Lane:
    """A forked helper that writes some tables into a side SQLite file, copied into the main one at the end.

    The side file is attached before the main transaction begins (SQLite forbids ATTACH inside one) and its tables
    have their own names (`lane_<table>`), so no unqualified name in the main transaction can resolve to them."""

    SCHEMA = "srsp_lane"

    def __init__(self, raw, path: str):
        self.raw, self.path, self.pid, self.tables = raw, path, 0, []
        self.done = mmap.mmap(-1, 8)  # rows written so far, shared with the helper
        self.reported = 0
        self._remove_file()
        raw.execute(f"ATTACH DATABASE ? AS {self.SCHEMA}", (path,))

    def start(self, tables: list[TableData], batch_rows: int) -> None:
        self.tables = tables
        self.pid = os.fork()
        if self.pid == 0:  # the helper: write, then leave without running any of the parent's clean-up
            code = 1
            try:
                self._write(batch_rows)
                code = 0
            except BaseException:  # noqa: BLE001 - reported on stderr, the parent sees the exit code
                traceback.print_exc()
            finally:
                os._exit(code)

    def _write(self, batch_rows: int) -> None:
        import sqlite3

        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN")
        written = 0
        for data in self.tables:
            columns = ", ".join(name for name, _convert in data.columns)
            connection.execute(f"CREATE TABLE lane_{data.table.name} ({columns})")

            def count(rows: int) -> None:
                nonlocal written
                written += rows
                struct.pack_into("q", self.done, 0, written)

            _insert_sqlite(connection, data, batch_rows, count, name=f"lane_{data.table.name}")
        connection.execute("COMMIT")
        connection.close()

    def poll(self) -> int:
        """Rows the helper wrote since the last poll."""
        done = struct.unpack_from("q", self.done, 0)[0]
        new, self.reported = done - self.reported, done
        return new

    def finish(self, progress) -> None:
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            progress(self.poll())
            if pid:
                break
            time.sleep(0.1)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("the helper process writing part of the tables failed (see its error above)")
        for data in self.tables:
            columns = ", ".join(name for name, _convert in data.columns)
            self.raw.execute(f"INSERT INTO main.{data.table.name} ({columns}) SELECT {columns} "
                             f"FROM {self.SCHEMA}.lane_{data.table.name} ORDER BY rowid")

    def close(self) -> None:
        if self.pid:  # the load failed in this process: stop the helper
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self.raw.execute(f"DETACH DATABASE {self.SCHEMA}")
        self._remove_file()

    def _remove_file(self) -> None:
        for suffix in ("", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)


@dataclass
class Result:
    population: Population
    counts: dict[str, int]
    generate_seconds: float
    write_seconds: float

    @property
    def seconds(self) -> float:
        return self.generate_seconds + self.write_seconds


def synthesize(engine: Engine, households: int, seed: int, areas: Sequence[str], as_of: date, replace: bool = False,
               progress: Callable[[int], None] | None = None,
               on_generated: Callable[[Population], None] | None = None) -> Result:
    """Generate and write; `on_generated` sees the population before the load starts (e.g. to size a progress bar)."""
    started = time.perf_counter()
    population = generate(households, seed, areas, as_of)
    generated = time.perf_counter()
    if on_generated:
        on_generated(population)
    counts = write(engine, population, replace=replace, progress=progress)
    return Result(population, counts, generated - started, time.perf_counter() - generated)
