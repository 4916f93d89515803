"""The wire format of the registries as SRSP meets them (and as the simulator serves them).

X-Road sources answer a batch lookup:

    GET {base}/r1/{instance}/{class}/{member}/{subsystem}/{service}/persons?pin=P1&pin=P2&from=YYYY-MM&to=YYYY-MM
    headers: X-Road-Client, X-Road-Id, X-Road-UserId
    200 {"results": [{"pin": "P1", "found": true, "data": {...}}, {"pin": "P2", "found": false}]}

`from`/`to` bound the months of income-like lines (inclusive); sources without months ignore them. A person the
registry does not know is `found: false`, never an error. One request answers the whole family: a collection
asks each registry once, whatever the family's size.

A registry without that batch lookup (its source set to `"batch": false` in the configuration) is asked one person
per request, the family's requests at once:

    GET {base}/r1/{...}/{service}/persons/{pin}?from=YYYY-MM&to=YYYY-MM
    200 {"pin": "P1", "found": true, "data": {...}}          404 {"error": "not_found", ...} when it does not know P1

Each source's `data` is in its own shape below, which its connector's `normalize()` turns into canonical records
(connectors/records.py):

population       {"surname", "given_name", "patronymic", "birth_date", "gender": "M|F", "death_date",
                  "address": {"mahalla_code", "text"},
                  "household": [{"pin", "relation"}],          # everyone registered with the person, incl. self
                  "military_service": [{"from", "to"}]}        # conscript service (MIA keeps the call-up list)
tax              {"salaries": [{"period", "amount"}], "entrepreneurial": [...], "property_income": [...]}
pension_fund     {"payments": [{"type": "pension|benefit", "period", "amount"}]}
cadastre         {"properties": [{"type": "residential|non_residential"}]}
vehicles         {"vehicles": [{"manufacture_year", "category": "passenger|truck|motorcycle"}]}
penitentiary     {"detentions": [{"from", "to"}]}
employment       {"unemployment_benefit": [{"period", "amount"}], "public_works": [{"period", "amount"}],
                  "registrations": [{"kind": "registered_unemployed|employment_registered", "from", "to"}]}
education        {"enrolments": [{"from", "to"}]}
courts           {"alimony_received": [{"period", "amount"}], "alimony_paid": [{"period", "amount"}]}
disability       {"group": "1|2|3|child", "valid_until"}
securities       {"holdings": [{"market_value": number|null, "nominal_value"}], "income": [{"period", "amount"}]}
local_registers  {"iron_notebook": [{"from", "to"}]}

Dates are ISO `YYYY-MM-DD` (`to`/`valid_until` null when open-ended); periods are `YYYY-MM`; amounts are UZS.

The civil registry speaks DCI (connectors/transport/dci.py) over X-Road: a signed sync search by
`idtype-value` (PINFL) at `{service path}/registry/sync/search`, answered with `reg_records`, one per vital event:
{"event": "birth|death|marriage|divorce", "date", "pin", "related_pin"}; subscribe + notify for births and deaths.
"""

BATCH_PATH = "persons"
PERSON_PATH = "persons/{pin}"  # the one-person lookup of a registry without the batch
PIN_PARAM = "pin"
FROM_PARAM = "from"
TO_PARAM = "to"
MAX_BATCH = 50  # PINs per call: a family fits in one; URLs stay short
PIN_ID_TYPE = "UIN"  # DCI identifier type under which the civil registry knows a PINFL
