"""Case management: enquiries, updates, alerts, grievances, appeals.

Reacts to `person_death_recorded`, `person_birth_notified` and `payment_lines_failed` (webapp/signals.py): the rule
pack's alert rules open alert cases (modules/grievances/alerts.py) inside the sender's transaction (no commit here).
Reacts to `application_decided` for the applications a case started (a change of circumstances, an appeal): the new
assessment waits on the case for a person to confirm it (modules/grievances/reassessment.py).
"""

from webapp import signals


@signals.person_death_recorded.connect
def _alert_on_death(person, death_date=None, source=None, **_extra):
    from modules.grievances.alerts import on_death

    on_death(person, death_date, source)


@signals.person_birth_notified.connect
def _alert_on_birth(_sender, pin=None, birth_date=None, related_pin=None, source=None, **_extra):
    from modules.grievances.alerts import on_birth

    on_birth(pin, birth_date, related_pin, source)


@signals.payment_lines_failed.connect
def _alert_on_failed_payment(_sender, line_ids=(), status="failed", **_extra):
    from modules.grievances.alerts import on_payment_failed

    on_payment_failed(list(line_ids), status)


@signals.application_decided.connect
def _reassessment_decided(application, assessment=None, **_extra):
    from modules.grievances.reassessment import on_decided
    from modules.registration.models import Purpose

    if assessment is not None and application.purpose is not Purpose.claim:
        on_decided(application, assessment)
