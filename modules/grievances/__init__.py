"""Case management: enquiries, updates, alerts, grievances, appeals.

Reacts to `person_death_recorded` and `payment_lines_failed` (webapp/signals.py): the rule pack's alert rules open
alert cases (modules/grievances/alerts.py) inside the sender's transaction (no commit here).
"""

from webapp import signals


@signals.person_death_recorded.connect
def _alert_on_death(person, death_date=None, source=None, **_extra):
    from modules.grievances.alerts import on_death

    on_death(person, death_date, source)


@signals.payment_lines_failed.connect
def _alert_on_failed_payment(_sender, line_ids=(), status="failed", **_extra):
    from modules.grievances.alerts import on_payment_failed

    on_payment_failed(list(line_ids), status)
