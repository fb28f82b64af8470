"""Requests to the customer's application, signed as Twilio signs them.

Form-encoded `POST` (or `GET` with the parameters in the query string), with
`X-Twilio-Signature` = `RequestValidator(auth_token).compute_signature(url, params)`
(Twilio's "Webhooks security" page: https://www.twilio.com/docs/usage/security). Failures map
to Twilio's error codes: 11200 HTTP retrieval failure (connection refused, timeout, a 4xx or 5xx
answer), 11100 invalid URL format, 11215 too many HTTP redirects.

Each executor owns one `WebhookSession` (one `requests.Session`, closed when the call ends), so
connections are reused within a call and never shared between threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator
from werkzeug.urls import uri_to_iri

from .models import CallLeg, WebhookRecord
from .registry import Registry

USER_AGENT = "TwilioProxy/1.1 (callflow emulator)"
MAX_HTTP_REDIRECTS = 10


class WebhookError(Exception):
    """A webhook that could not be fetched, with Twilio's error code."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class WebhookAnswer:
    status: int
    content_type: str
    body: str
    url: str


#: Characters left as they are in a GET query: the set web frameworks leave unescaped when
#: they rebuild the request URL (werkzeug's `request.url`), so the signed URL and the URL the
#: application validates against are the same string.
QUERY_SAFE = "!$'()*,/:;?@"


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its query string (how Twilio sends a GET)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query, safe=QUERY_SAFE)))


def is_absolute_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class WebhookSession:
    """Signed requests for one caller of webhooks (a call's executor, or the notifier)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.validator = RequestValidator(registry.auth_token)
        self.session = requests.Session()
        self.session.max_redirects = MAX_HTTP_REDIRECTS
        self.session.headers["User-Agent"] = USER_AGENT

    def __enter__(self) -> WebhookSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        url: str,
        method: str,
        params: dict[str, str],
        *,
        purpose: str,
        leg: CallLeg | None = None,
    ) -> WebhookAnswer:
        """Send one signed request; raise WebhookError unless it answers 2xx."""
        method = method.upper() if method.upper() in ("GET", "POST") else "POST"
        status: int | None = None
        code: int | None = None
        try:
            if self.registry.closing:
                raise WebhookError(11200, "the emulator is shutting down")
            if not is_absolute_http_url(url):
                raise WebhookError(11100, f"invalid URL {url!r}")
            started = time.monotonic()
            try:
                answer = self._send(url, method, params)
            except WebhookError:
                self.registry.tally_webhook(
                    status=None, seconds=time.monotonic() - started, url=url
                )
                raise
            self.registry.tally_webhook(
                status=answer.status, seconds=time.monotonic() - started, url=url
            )
            status = answer.status
            if not 200 <= answer.status < 300:
                raise WebhookError(11200, f"HTTP {answer.status} from {url}")
            return answer
        except WebhookError as error:
            code = error.code
            raise
        finally:
            if leg is not None:
                record = WebhookRecord(
                    at=self.registry.now(),
                    purpose=purpose,
                    method=method,
                    url=url,
                    params=dict(params),
                    status=status,
                    error_code=code,
                )
                self.registry.record_webhook(leg, record)

    def _send(self, url: str, method: str, params: dict[str, str]) -> WebhookAnswer:
        timeout = self.registry.webhook_timeout
        try:
            if method == "GET":
                full_url = with_query(url, params)
                # Signed as the application sees it: non-ASCII characters decoded (an IRI).
                signature = self.validator.compute_signature(uri_to_iri(full_url), {})
                response = self.session.get(
                    full_url, headers={"X-Twilio-Signature": signature}, timeout=timeout
                )
            else:
                signature = self.validator.compute_signature(url, params)
                response = self.session.post(
                    url,
                    data=params,
                    headers={"X-Twilio-Signature": signature},
                    timeout=timeout,
                )
        except requests.TooManyRedirects as error:
            raise WebhookError(11215, str(error)) from error
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
            raise WebhookError(11100, str(error)) from error
        except requests.RequestException as error:
            raise WebhookError(11200, f"{type(error).__name__}: {error}") from error
        with response:
            content_type = response.headers.get("Content-Type", "")
            return WebhookAnswer(response.status_code, content_type, response.text, response.url)
