"""SMS through Twilio's Messages API with the official `twilio` library.

`TWILIO_API_BASE` points the library at another host (a local stand-in of the Messages API in tests, or a
proxy): the library always builds https://api.twilio.com/... URLs, so a custom HttpClient rewrites their origin.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from connectors.sms.gateway import SmsError

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending every request to `base_url` instead of the host the library chose."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args, **kwargs):
        return super().request(method, rebase(url, self.base_url), *args, **kwargs)


def rebase(url: str, base_url: str) -> str:
    """https://api.twilio.com/2010-04-01/X with base http://127.0.0.1:8000/twilio → http://127.0.0.1:8000/twilio/2010-04-01/X."""
    target, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, ""))


class TwilioGateway:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str | None = None,
                 messaging_service_sid: str | None = None, api_base: str | None = None,
                 timeout: float = TIMEOUT_SECONDS):
        http_client = (RebasedHttpClient(api_base, timeout=timeout) if api_base
                       else TwilioHttpClient(timeout=timeout))
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid

    @classmethod
    def from_config(cls, config) -> TwilioGateway:
        return cls(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config.get("TWILIO_FROM_NUMBER"),
                   config.get("TWILIO_MESSAGING_SERVICE_SID"), config.get("TWILIO_API_BASE"))

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        """POST /2010-04-01/Accounts/{sid}/Messages.json; returns the message sid (SM…)."""
        options = {"from_": self.from_number, "messaging_service_sid": self.messaging_service_sid,
                   "status_callback": status_callback}
        try:
            message = self.client.messages.create(to=to, body=body,
                                                  **{key: value for key, value in options.items() if value})
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _refusal(exc) from exc
        except requests.exceptions.ReadTimeout as exc:
            # Twilio may have taken the message before the answer was lost: trying again could send it twice.
            raise SmsError("no answer from Twilio in time; the message may have been sent", retryable=False) from exc
        except requests.exceptions.RequestException as exc:
            raise SmsError(f"could not reach Twilio ({type(exc).__name__})", retryable=True) from exc
        except TwilioException as exc:
            raise SmsError(f"Twilio client error: {exc}", retryable=False) from exc
        if not isinstance(message.sid, str) or not message.sid:
            raise SmsError("Twilio answered without a message sid", retryable=False)
        return message.sid


def _refusal(exc: TwilioRestException | TwilioServiceException) -> SmsError:
    """Too many requests and server errors pass; anything else (a bad number, bad credentials) will not."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or ""
    log.warning("Twilio refused a message: HTTP %s, error %s", status, code)  # the detail may quote the number
    return SmsError(f"Twilio HTTP {status}, error {code}: {detail}".strip(), retryable=status == 429 or status >= 500,
                    code=code)
