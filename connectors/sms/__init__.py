"""SMS notices to citizens (DESIGN §3): a gateway interface with a local outbox and a Twilio backend.

Other modules call `queue_sms(dedupe_key, to, body, language, template, application_id=None)` inside their
transaction: it adds a `notification` row (status queued) unless one with that dedupe key exists, and after the
commit the job `connectors.sms.tasks:send` hands it to the gateway chosen by SMS_BACKEND (`get_gateway`),
retrying with exponential backoff on errors that may pass. Twilio reports delivery to `POST /api/v1/sms/status`
(`webapp/notifications.py`), which moves the row to delivered, undelivered or failed.
"""

from connectors.sms.gateway import Gateway, SmsError, get_gateway
from connectors.sms.outbox import OutboxGateway
from connectors.sms.queueing import queue_sms
from connectors.sms.status import apply_provider_status
from connectors.sms.twilio_gateway import TwilioGateway

__all__ = ["Gateway", "OutboxGateway", "SmsError", "TwilioGateway", "apply_provider_status", "get_gateway",
           "queue_sms"]
