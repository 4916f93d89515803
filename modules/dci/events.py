"""Registry events notified to subscribers: `REGISTER` when an application is submitted for a household (the
household, as a Group record) and `NewHouseHoldMember` when people join a household (each, as a Member record).

One notify job per subscriber and event, deduplicated, so a signal sent twice notifies once.
"""

from __future__ import annotations

from sqlalchemy import select

from modules.dci import records, tasks
from modules.dci.models import DciSubscription
from webapp import signals
from webapp.extensions import db
from webapp.jobs import enqueue


def _notify(event_type: str, entity: str, object_id: int, event_key: str) -> None:
    subscriptions = db.session.scalars(select(DciSubscription.id).where(
        DciSubscription.event_type == event_type, DciSubscription.active.is_(True)))
    for subscription in subscriptions:
        enqueue(tasks.notify, subject=f"dci_subscription:{subscription}",
                dedupe_key=f"dci-notify:{subscription}:{event_key}", subscription=subscription,
                event_type=event_type, entity=entity, object_id=object_id)


@signals.application_submitted.connect
def _registered(application, **_extra) -> None:
    _notify("REGISTER", records.GROUP, application.household_id, f"application:{application.id}")


@signals.household_members_joined.connect
def _joined(household, person_ids=(), on=None, **_extra) -> None:
    for person_id in person_ids:
        _notify("NewHouseHoldMember", records.MEMBER, person_id, f"member:{household.id}:{person_id}:{on}")
