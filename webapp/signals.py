"""Every blinker signal between modules, declared in one place.

Receivers run inside the sender's transaction; they must not commit.
"""

from blinker import Namespace

_signals = Namespace()

#: sender: the Application; kwargs: actor. Sent after a new application is submitted (flushed, not committed).
application_submitted = _signals.signal("application-submitted")

#: sender: the Application; kwargs: previous (ApplicationStatus), actor.
application_status_changed = _signals.signal("application-status-changed")

#: sender: the Application; kwargs: assessment (the stored Assessment), actor. Sent when the means test decides.
application_decided = _signals.signal("application-decided")

#: sender: the Person; kwargs: death_date, source, message_id. Sent when a death is recorded (a new or changed date).
person_death_recorded = _signals.signal("person-death-recorded")

#: sender: None; kwargs: pin (the child's), birth_date, related_pin (the mother's PIN the civil registry's record
#: carries, or None), source, message_id. Sent when the civil registry notifies a birth for the first time.
person_birth_notified = _signals.signal("person-birth-notified")

#: sender: None; kwargs: line_ids (payroll line ids), status ("failed" or "returned"), actor. Sent when a bank
#: statement moves payroll lines to failed or returned.
payment_lines_failed = _signals.signal("payment-lines-failed")

#: sender: the Payroll; kwargs: previous (PayrollStatus), actor. Sent when a payroll moves to another status.
payroll_status_changed = _signals.signal("payroll-status-changed")

#: sender: None; kwargs: payroll_ids (the payrolls whose lines a bank statement settled), actor.
payment_lines_settled = _signals.signal("payment-lines-settled")

#: sender: the Household; kwargs: person_ids (those who joined), on (date), actor. Sent when people join a household.
household_members_joined = _signals.signal("household-members-joined")

#: sender: None; kwargs: subject (the job's subject, or None). Sent when a job has its final outcome (finished, or
#: failed for good), in the transaction that records it.
job_settled = _signals.signal("job-settled")
