"""SMS notices to citizens: queueing, sending, delivery reports and the staff outbox page.

Other modules call `queue_sms(dedupe_key, to, body, language, template, application_id=None)` (operations.py)
inside their transaction: it adds a `notification` row (status queued) unless one with that dedupe key exists, and
enqueues the `send` task (tasks.py), which hands the message to the gateway chosen by SMS_BACKEND
(`connectors.sms.get_gateway`) after the commit, retrying with exponential backoff on errors that may pass.
Twilio reports delivery to `POST /api/v1/sms/status`, which moves the row to delivered, undelivered or failed.
`resend_stuck_sms` (periodic) sends again what was left queued with no live send job.
"""
