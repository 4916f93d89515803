"""The events alert rules react to, with the typed fields each carries (an alert rule's `when` names only
those), shared by the pack loader (rules.pack) and the matcher (rules.alerts)."""

# The fields each event kind carries, with their types (number | bool).
EVENT_FIELDS: dict[str, dict[str, str]] = {
    # A death recorded from the civil registry: whether the deceased is a beneficiary or payee of an active
    # enrolment, whether their household has one, the deceased's age in years.
    "death_reported": {"enrolled": "bool", "household_enrolled": "bool", "age": "number"},
    # A birth notified by the civil registry into a household that is known (found through the parent's PIN the
    # notification carries): whether the household has an enrolment that is not ended, how many children under 18
    # live in it besides the newborn.
    "birth_reported": {"household_enrolled": "bool", "children": "number"},
    # A payroll line the bank failed or returned.
    "payment_failed": {"returned": "bool", "amount": "number"},
    # An eligible household's entitlement ends soon (the daily scan): the calendar days until its active
    # enrolments' period ends, and the monthly amount they pay.
    "recertification_due": {"days_left": "number", "monthly_amount": "number"},
    # An application waits in manual verification (the daily scan): working days since it entered that status.
    "verification_stuck": {"working_days": "number"},
}
