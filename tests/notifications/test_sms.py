"""SMS notices: queue_sms, the send job and its safety net, the outbox and Twilio backends, Twilio's status callback.

Twilio is exercised through the real `twilio` library against a local stand-in of its Messages API (werkzeug on
127.0.0.1), which checks Basic auth like Twilio and can be told to fail the next calls.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import delete, func, select, update
from twilio.request_validator import RequestValidator

from connectors.sms import OutboxGateway, SmsError, TwilioGateway, get_gateway
from connectors.sms.twilio_gateway import rebase
from modules.notifications import operations, tasks
from modules.notifications.operations import queue_sms
from tests import factories
from tests.connectors.transport import live_server
from webapp import ConfigError, jobs
from webapp.config import load_config
from webapp.extensions import db
from webapp.models import AuditEvent, Job, JobStatus, Notification, NotificationStatus
from webapp.timeutil import utcnow

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stand-in-auth-token-0123456789ab"
FROM_NUMBER = "+15005550006"
CALLBACK_URL = "https://srsp.example.uz/api/v1/sms/status"
PHONE = "+998901234567"
S = NotificationStatus


# --- a local stand-in of Twilio's Messages API ------------------------------------------------------------------


class TwilioStandIn:
    """POST /2010-04-01/Accounts/{sid}/Messages.json as Twilio answers it (the subset in shared/standards/twilio)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        self.app = self._build()

    def reset(self) -> None:
        self.requests = 0  # every call that reached the Messages endpoint, whatever the answer
        self.messages: list[dict] = []  # messages accepted (201)
        self.failures: list[int] = []  # statuses to answer with, one per coming call
        self.invalid_numbers: set[str] = set()
        self.latency = 0.0

    def fail_next(self, count: int, status: int) -> None:
        self.failures = [status] * count

    def _build(self) -> Flask:
        app = Flask("twilio-stand-in")
        app.add_url_rule("/2010-04-01/Accounts/<account_sid>/Messages.json", "create", self._create,
                         methods=["POST"])
        return app

    def _create(self, account_sid: str):
        if not self._authorised(account_sid):
            return _error(401, 20003, "Authenticate")
        with self.lock:
            self.requests += 1
            failure = self.failures.pop(0) if self.failures else None
        time.sleep(self.latency)
        if failure == 429:
            return _error(429, 20429, "Too Many Requests")
        if failure:
            return _error(failure, 20500, "Internal Server Error")
        form = request.form
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if form["To"] in self.invalid_numbers:
            return _error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        return jsonify(self._resource(account_sid, dict(form))), 201

    def _authorised(self, account_sid: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return account_sid == ACCOUNT_SID and request.headers.get("Authorization") == expected

    def _resource(self, account_sid: str, form: dict) -> dict:
        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        with self.lock:
            self.messages.append(form | {"sid": sid})
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
        return {"account_sid": account_sid, "api_version": "2010-04-01", "body": form["Body"], "date_created": now,
                "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": form.get("From"), "messaging_service_sid":
                form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1", "price": None,
                "price_unit": "USD", "sid": sid, "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"},
                "to": form["To"], "uri": f"{uri}.json"}


def _error(status: int, code: int, message: str):
    return jsonify({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}), status


@pytest.fixture(scope="module")
def _standin_server():
    standin = TwilioStandIn()
    with live_server(standin.app) as url:
        standin.url = url
        yield standin


@pytest.fixture
def standin(_standin_server):
    _standin_server.reset()
    return _standin_server


@pytest.fixture(autouse=True)
def _quick_retries(app, monkeypatch):
    """Inline, a retry would wait up to jobs.INLINE_MAX_DELAY; the tests need the retries, not the wait."""
    monkeypatch.setattr(jobs, "INLINE_MAX_DELAY", 0)
    monkeypatch.setitem(app.config, "SMS_MAX_ATTEMPTS", 5)


@pytest.fixture
def twilio(app, standin, monkeypatch):
    """The app configured for Twilio, pointed at the stand-in."""
    for key, value in {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                       "TWILIO_FROM_NUMBER": FROM_NUMBER, "TWILIO_API_BASE": standin.url,
                       "SMS_STATUS_CALLBACK_URL": CALLBACK_URL}.items():
        monkeypatch.setitem(app.config, key, value)
    return standin


def _queue(key: str = "assessment:1:decision", **fields) -> Notification:
    values = {"to": PHONE, "body": "Arizangiz ko‘rib chiqildi: nafaqa tayinlandi.", "language": "uz",
              "template": "decision"} | fields
    return queue_sms(key, **values)


def _fresh(notification_id: int) -> Notification:
    """The row as the database has it now (the send job wrote it in its own session)."""
    return db.session.scalar(select(Notification).where(Notification.id == notification_id)
                             .execution_options(populate_existing=True))


def _count(key: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(Notification.dedupe_key == key))


# --- Twilio through the real client -----------------------------------------------------------------------------


def test_an_sms_goes_through_the_real_twilio_client_after_commit(twilio):
    notification = _queue()
    assert twilio.requests == 0, "nothing is sent before the caller commits"
    db.session.commit()
    sent = _fresh(notification.id)
    assert twilio.requests == 1 and len(twilio.messages) == 1
    message = twilio.messages[0]
    assert (message["To"], message["From"], message["Body"]) == (PHONE, FROM_NUMBER, notification.body)
    assert message["StatusCallback"] == CALLBACK_URL
    assert sent.status is S.sent and sent.provider_id == message["sid"] and sent.provider_id.startswith("SM")
    assert sent.attempts == 1 and sent.sent_at is not None and sent.last_error is None


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_retryable_failure_then_success_sends_exactly_one_message(twilio, status):
    twilio.fail_next(2, status)
    notification = _queue()
    db.session.commit()
    sent = _fresh(notification.id)
    assert twilio.requests == 3, "two refused calls, then the one that went through"
    assert len(twilio.messages) == 1
    assert sent.status is S.sent and sent.attempts == 3 and sent.provider_id == twilio.messages[0]["sid"]


def test_retries_stop_at_the_maximum_and_the_message_fails(twilio, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_MAX_ATTEMPTS", 3)
    twilio.fail_next(10, 500)
    notification = _queue()
    db.session.commit()
    failed = _fresh(notification.id)
    assert twilio.requests == 3 and twilio.messages == []
    assert failed.status is S.failed and failed.attempts == 3 and "500" in failed.last_error
    assert failed.provider_id is None and failed.next_attempt_at is None


def test_a_bad_number_fails_at_once_without_retrying(twilio):
    twilio.invalid_numbers.add(PHONE)
    notification = _queue()
    db.session.commit()
    failed = _fresh(notification.id)
    assert twilio.requests == 1 and twilio.messages == []
    assert failed.status is S.failed and failed.attempts == 1 and "21211" in failed.last_error


def test_wrong_credentials_are_refused_by_the_stand_in_and_not_retried(twilio):
    gateway = TwilioGateway(ACCOUNT_SID, "not-the-token", FROM_NUMBER, api_base=twilio.url)
    with pytest.raises(SmsError) as refusal:
        gateway.send(PHONE, "hello")
    assert refusal.value.retryable is False and refusal.value.code == 20003
    assert twilio.messages == []


def test_an_unreachable_twilio_is_retryable(twilio):
    with live_server(Flask("gone")) as url:
        pass  # the port is closed again: nothing listens there
    with pytest.raises(SmsError) as refusal:
        TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=url).send(PHONE, "hello")
    assert refusal.value.retryable is True


def test_a_messaging_service_replaces_the_sender_number(twilio):
    service = "MG" + "ab" * 16
    TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=service, api_base=twilio.url).send(PHONE, "hi")
    assert twilio.messages[0]["MessagingServiceSid"] == service and "From" not in twilio.messages[0]


def test_api_base_rewrites_only_the_origin():
    assert rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1", "http://127.0.0.1:9/tw/") \
        == "http://127.0.0.1:9/tw/2010-04-01/Accounts/AC1/Messages.json?x=1"


# --- idempotency ------------------------------------------------------------------------------------------------


def test_running_the_send_job_twice_sends_one_message(twilio):
    notification = _queue()
    db.session.commit()
    assert len(twilio.messages) == 1
    again = tasks.send("second-run", notification.id)
    assert "skipped" in again
    assert twilio.requests == 1 and len(twilio.messages) == 1
    assert _fresh(notification.id).attempts == 1


def test_a_worker_killed_after_sending_leaves_the_message_claimed_not_queued(twilio, app, monkeypatch):
    """The claim is committed before the gateway is called: a crash after Twilio took the message must not make it
    sendable again (it stays "sending", for staff to see)."""
    notification = _queue()
    db.session.flush()
    db.session.info.pop("srsp_pending_jobs", None)  # run the job by hand
    real = get_gateway()

    class KilledAfterSending:
        def send(self, *args, **kwargs):
            real.send(*args, **kwargs)
            raise SystemExit("worker killed")

    monkeypatch.setattr(tasks, "get_gateway", KilledAfterSending)
    with pytest.raises(SystemExit):
        tasks.send("killed", notification.id)
    db.session.rollback()
    assert _fresh(notification.id).status is S.sending
    monkeypatch.setattr(tasks, "get_gateway", lambda: real)
    assert "skipped" in tasks.send("restarted", notification.id)
    assert len(twilio.messages) == 1


def test_two_queued_jobs_for_one_notification_send_one_message(twilio):
    notification = _queue()
    jobs.enqueue(tasks.send, notification_id=notification.id)  # a duplicate job
    db.session.commit()
    assert twilio.requests == 1 and len(twilio.messages) == 1
    assert _fresh(notification.id).status is S.sent


@pytest.mark.committed
def test_concurrent_runs_of_the_send_job_send_one_message(app, twilio):
    """Two workers pick up the same notification at the same moment: the claim lets exactly one through."""
    twilio.latency = 0.3
    notification = Notification(channel="sms", template="decision", language="uz", to=PHONE, body="hello",
                                dedupe_key=f"test:concurrent:{secrets.token_hex(4)}")
    db.session.add(notification)
    db.session.commit()
    notification_id = notification.id
    db.session.remove()
    results: list[dict] = []

    def run(name: str) -> None:
        with app.app_context():
            results.append(tasks.send(name, notification_id))
            db.session.commit()

    threads = [threading.Thread(target=run, args=(f"worker-{n}",)) for n in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(twilio.messages) == 1 and twilio.requests == 1
        assert sorted("sent" in result for result in results) == [False, True]
        assert _fresh(notification_id).status is S.sent
    finally:
        db.session.rollback()
        db.session.execute(delete(Notification).where(Notification.id == notification_id))
        db.session.commit()


# --- queue_sms --------------------------------------------------------------------------------------------------


def test_queue_sms_twice_with_one_dedupe_key_gives_one_row_and_one_message(twilio):
    first = _queue("assessment:7:decision")
    second = _queue("assessment:7:decision", body="a different text")
    assert second.id == first.id and second.body == first.body
    db.session.commit()
    assert _queue("assessment:7:decision").id == first.id, "and still after the commit"
    db.session.commit()
    assert _count("assessment:7:decision") == 1
    assert len(twilio.messages) == 1


def test_queue_sms_loses_a_race_for_the_key_gracefully(app, monkeypatch):
    """Another caller inserts the key between our look-up and our insert: the UNIQUE constraint decides, inside a
    savepoint, so the caller's other work in the transaction survives and the winner's row is returned."""
    winner = _queue("assessment:9:decision")
    db.session.flush()
    other_work = _queue("assessment:10:decision")
    real_lookup, misses = operations._by_key, [None]

    def lookup(key):  # the first look-up misses, as if the winner had not committed yet when we looked
        return misses.pop() if misses else real_lookup(key)

    monkeypatch.setattr(operations, "_by_key", lookup)
    loser = _queue("assessment:9:decision", body="sent twice?")
    assert loser.id == winner.id and loser.body == winner.body
    assert _count("assessment:9:decision") == 1
    assert db.session.get(Notification, other_work.id) is not None, "the savepoint rolled back only the insert"


def test_queue_sms_is_audited_without_the_number_or_text(app):
    notification = _queue("assessment:11:decision")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "notification.queued",
                                                       AuditEvent.object_id == str(notification.id)))
    assert event.details["dedupe_key"] == "assessment:11:decision"
    assert PHONE not in str(event.details) and notification.body not in str(event.details)


@pytest.mark.parametrize(("field", "value"), [("to", "901234567"), ("to", "+998 90 123"), ("body", ""),
                                              ("body", "x" * 1601), ("language", ""), ("template", "")])
def test_queue_sms_refuses_what_could_never_be_sent(app, field, value):
    with pytest.raises(ValueError, match=field):
        _queue("assessment:12:decision", **{field: value})
    assert _count("assessment:12:decision") == 0


# --- messages whose send job was lost -----------------------------------------------------------------------------


def _lost(key: str, minutes_ago: int, status: NotificationStatus = S.queued) -> Notification:
    """A message whose send job is gone (failed for good here), last touched `minutes_ago`."""
    notification = _queue(key)
    db.session.flush()
    db.session.info.pop("srsp_pending_jobs", None)  # its job is never handed over
    db.session.execute(update(Job).where(Job.subject == tasks.subject_of(notification.id))
                       .values(status=JobStatus.failed))
    notification.status = status
    notification.updated_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.flush()
    return notification


def test_a_message_left_queued_with_no_live_job_is_sent_again_once(twilio):
    stuck = _lost("assessment:50:decision", minutes_ago=10)
    recent = _lost("assessment:51:decision", minutes_ago=1)  # its job may still be on the way
    claimed = _lost("assessment:52:decision", minutes_ago=10, status=S.sending)  # Twilio may have it already
    waiting = _queue("assessment:53:decision")  # a live job of its own
    db.session.info.pop("srsp_pending_jobs", None)
    waiting.updated_at = utcnow() - timedelta(minutes=10)
    db.session.flush()
    assert tasks.resend_stuck_sms("sweep") == {"resent": 1, "stuck": 2}
    db.session.commit()
    assert _fresh(stuck.id).status is S.sent and [m["Body"] for m in twilio.messages] == [stuck.body]
    assert _fresh(recent.id).status is S.queued and _fresh(claimed.id).status is S.sending
    assert tasks.resend_stuck_sms("again")["resent"] == 0, "sent, so nothing is left to resend"


# --- the outbox backend -----------------------------------------------------------------------------------------


def test_the_outbox_backend_marks_the_message_sent_and_calls_nobody(app, standin):
    assert app.config["SMS_BACKEND"] == "outbox" and isinstance(get_gateway(), OutboxGateway)
    notification = _queue("assessment:20:decision")
    db.session.commit()
    sent = _fresh(notification.id)
    assert sent.status is S.sent and sent.provider_id.startswith("OUTBOX-") and sent.attempts == 1
    assert standin.requests == 0
    assert OutboxGateway().send(PHONE, "x") != OutboxGateway().send(PHONE, "x"), "ids never collide"


# --- retries on rq wait in rq's scheduler ------------------------------------------------------------------------



def test_on_rq_a_retry_is_scheduled_for_later_not_run_now(app, twilio, monkeypatch):
    redis_url = factories.reachable_redis_url()
    if redis_url is None:
        pytest.skip("no Redis reachable (CI sets REDIS_URL)")
    from rq.registry import ScheduledJobRegistry

    notification = _queue("assessment:30:decision")
    db.session.flush()
    db.session.info.pop("srsp_pending_jobs", None)  # send by hand below, not inline after commit
    twilio.fail_next(1, 500)
    monkeypatch.setitem(app.config, "JOBS_INLINE", False)
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    registry = ScheduledJobRegistry(queue=jobs.rq_queue(tasks.send.queue))
    before, waiting = set(registry.get_job_ids()), jobs.rq_queue(tasks.send.queue).count
    result = tasks.send("first", notification.id)
    db.session.commit()
    scheduled = set(registry.get_job_ids()) - before
    try:
        assert result["retry_in"] >= app.config["SMS_RETRY_BASE_SECONDS"]
        assert len(scheduled) == 1 and jobs.rq_queue(tasks.send.queue).count == waiting, "scheduled, not queued"
        retry = _fresh(notification.id)
        assert retry.status is S.queued and retry.attempts == 1 and retry.next_attempt_at is not None
        assert len(twilio.messages) == 0
    finally:
        for job_id in scheduled:
            registry.remove(job_id, delete_job=True)


# --- Twilio's status callback -----------------------------------------------------------------------------------


def _sent_notification(key: str = "assessment:40:decision") -> Notification:
    notification = _queue(key)
    db.session.commit()
    return _fresh(notification.id)


def _callback(client, form: dict, signature: str | None = "valid"):
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(CALLBACK_URL, form)
    elif signature:
        headers["X-Twilio-Signature"] = signature
    return client.post("/api/v1/sms/status", data=form, headers=headers, base_url="https://srsp.example.uz")


def _report(notification: Notification, status: str, **extra) -> dict:
    return {"MessageSid": notification.provider_id, "SmsSid": notification.provider_id, "MessageStatus": status,
            "SmsStatus": status, "AccountSid": ACCOUNT_SID, "From": FROM_NUMBER, "To": notification.to,
            "ApiVersion": "2010-04-01"} | extra


def test_a_signed_status_callback_updates_the_message(client, twilio):
    notification = _sent_notification()
    response = _callback(client, _report(notification, "delivered"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _fresh(notification.id).status is S.delivered


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(client, twilio):
    notification = _sent_notification()
    forged = RequestValidator("someone-elses-token").compute_signature(CALLBACK_URL, _report(notification, "failed"))
    assert _callback(client, _report(notification, "failed"), signature=forged).status_code == 403
    assert _callback(client, _report(notification, "failed"), signature=None).status_code == 403
    signed_other = RequestValidator(AUTH_TOKEN).compute_signature(CALLBACK_URL, _report(notification, "delivered"))
    assert _callback(client, _report(notification, "failed"), signature=signed_other).status_code == 403, \
        "a signature for other parameters does not cover these"
    assert _fresh(notification.id).status is S.sent


def test_a_callback_for_an_unknown_message_is_404(client, twilio):
    notification = _sent_notification()
    report = _report(notification, "delivered") | {"MessageSid": "SM" + "0" * 32, "SmsSid": "SM" + "0" * 32}
    assert _callback(client, report).status_code == 404
    assert _fresh(notification.id).status is S.sent


def test_callbacks_only_move_forward(client, twilio):
    notification = _sent_notification()
    assert _callback(client, _report(notification, "queued")).status_code == 200
    assert _fresh(notification.id).status is S.sent, "never back to queued, which would make it sendable again"
    _callback(client, _report(notification, "undelivered", ErrorCode="30003"))
    _callback(client, _report(notification, "delivered"))  # late and out of order: the final status stays
    undelivered = _fresh(notification.id)
    assert undelivered.status is S.undelivered and "30003" in undelivered.last_error


def test_callbacks_are_refused_when_twilio_is_not_configured(client, app):
    notification = _sent_notification()  # outbox backend: no auth token to check a signature with
    assert _callback(client, _report(notification, "delivered")).status_code == 403


# --- configuration ----------------------------------------------------------------------------------------------


@pytest.fixture
def sms_env(monkeypatch, tmp_path):
    for name in ("SMS_BACKEND", "SMS_MAX_ATTEMPTS", "SMS_STATUS_CALLBACK_URL", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    return tmp_path


def test_sms_defaults_to_the_outbox(sms_env):
    config = load_config({"INSTANCE_DIR": sms_env})
    assert config["SMS_BACKEND"] == "outbox" and config["SMS_MAX_ATTEMPTS"] == 5
    assert config["SMS_STATUS_CALLBACK_URL"] is None


def test_twilio_settings_are_read(sms_env, monkeypatch):
    for name, value in {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                        "TWILIO_FROM_NUMBER": FROM_NUMBER, "TWILIO_API_BASE": "http://127.0.0.1:8111",
                        "SMS_STATUS_CALLBACK_URL": CALLBACK_URL, "SMS_MAX_ATTEMPTS": "3"}.items():
        monkeypatch.setenv(name, value)
    config = load_config({"INSTANCE_DIR": sms_env})
    assert isinstance(get_gateway(config), TwilioGateway)
    assert (config["TWILIO_API_BASE"], config["SMS_MAX_ATTEMPTS"]) == ("http://127.0.0.1:8111", 3)


@pytest.mark.parametrize(("env", "named"), [
    ({"SMS_BACKEND": "carrier-pigeon"}, "SMS_BACKEND"),
    ({"SMS_BACKEND": "twilio", "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": FROM_NUMBER},
     "TWILIO_ACCOUNT_SID"),
    ({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_FROM_NUMBER": FROM_NUMBER},
     "TWILIO_AUTH_TOKEN"),
    ({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
     "TWILIO_FROM_NUMBER"),
    ({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
      "TWILIO_FROM_NUMBER": FROM_NUMBER}, "TWILIO_ACCOUNT_SID"),
    ({"SMS_MAX_ATTEMPTS": "0"}, "SMS_MAX_ATTEMPTS"),
    ({"TWILIO_API_BASE": "api.twilio.com"}, "TWILIO_API_BASE"),
    ({"SMS_STATUS_CALLBACK_URL": "ftp://srsp.example.uz/cb"}, "SMS_STATUS_CALLBACK_URL"),
])
def test_an_unusable_sms_configuration_names_the_variable(sms_env, monkeypatch, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{named}:"):
        load_config({"INSTANCE_DIR": sms_env})
