"""The events alert rules react to, with the typed fields each carries (an alert rule's `when` names only
those), shared by the pack loader (rules.pack) and the matcher (rules.alerts)."""

# The fields each event kind carries, with their types (number | bool).
EVENT_FIELDS: dict[str, dict[str, str]] = {
    # A death recorded from the civil registry: whether the deceased is a beneficiary or payee of an active
    # enrolment, whether their household has one, the deceased's age in years.
    "death_reported": {"enrolled": "bool", "household_enrolled": "bool", "age": "number"},
    # A birth notified by the civil registry into a household that is known.
    "birth_reported": {"household_enrolled": "bool"},
    # A payroll line the bank failed or returned.
    "payment_failed": {"returned": "bool", "amount": "number"},
}
