"""The service's Twilio REST calls: connect a waiting caller to an agent, redirect a live
call (back on hold, to a regulation queue), place a callback call, hang up.

Every request goes through the official `twilio` client (`rest_client.twilio_client_for`,
pointed at `TWILIO_API_BASE_URL`) with bounded retries: 5xx, 429, timeouts and refused
connections are retried with exponential back-off; the outcome is one of three exceptions
the flows act on:

- `CallGone`: Twilio no longer knows the call, or it has already ended (20404, 21220):
  the call is closed as abandoned, never requeued;
- `TwilioUnavailable`: still failing after the retries: the call goes back to its place;
- `TwilioRejected`: any other refusal (a 4xx): a bug or a bad number, not retried.

Creating a call is not idempotent: it is retried only when Twilio surely did not act on it
(429, 503, or no connection made), never after a read timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from .rest_client import twilio_client_for

log = logging.getLogger(__name__)

#: Twilio error codes meaning "this call is gone": unknown resource, call not in progress.
GONE_CODES = frozenset({20404, 21220})


class TwilioFailure(Exception):
    """A REST request that did not do what was asked."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class CallGone(TwilioFailure):
    """The call no longer exists at Twilio or has ended."""


class TwilioUnavailable(TwilioFailure):
    """Twilio kept failing (5xx, 429, timeouts) through every attempt."""


class TwilioRejected(TwilioFailure):
    """Twilio refused the request (4xx other than a gone call)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 4.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1))))


def _retryable(exc: Exception, *, idempotent: bool) -> bool:
    if isinstance(exc, TwilioRestException):
        if idempotent:
            return exc.status == 429 or exc.status >= 500
        return exc.status in (429, 503)
    if isinstance(exc, requests.ConnectionError):
        # ConnectTimeout and refused connections: nothing reached Twilio.
        return idempotent or not isinstance(exc, requests.ReadTimeout)
    if isinstance(exc, requests.Timeout):
        return idempotent
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, TwilioRestException):
        return f"HTTP {exc.status} code {exc.code}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


class TwilioGateway:
    """Call control over Twilio's 2010-04-01 REST API (Calls, Queue Members)."""

    def __init__(
        self,
        client: Client,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    @classmethod
    def for_account(
        cls,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        timeout_s: float,
        policy: RetryPolicy | None = None,
    ) -> TwilioGateway:
        return cls(
            twilio_client_for(base_url, account_sid, auth_token, timeout=timeout_s), policy=policy
        )

    def _run(self, what: str, request: Callable[[], Any], *, idempotent: bool = True) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return request()
            except (TwilioRestException, requests.RequestException) as exc:
                if isinstance(exc, TwilioRestException) and (
                    exc.code in GONE_CODES or exc.status == 404
                ):
                    raise CallGone(
                        f"{what}: {_describe(exc)}", status=exc.status, code=exc.code
                    ) from exc
                status = exc.status if isinstance(exc, TwilioRestException) else None
                code = exc.code if isinstance(exc, TwilioRestException) else None
                if not _retryable(exc, idempotent=idempotent):
                    if isinstance(exc, TwilioRestException):
                        raise TwilioRejected(
                            f"{what}: {_describe(exc)}", status=status, code=code
                        ) from exc
                    raise TwilioUnavailable(f"{what}: {_describe(exc)}") from exc
                if attempt >= self.policy.attempts:
                    raise TwilioUnavailable(
                        f"{what}: {_describe(exc)} after {attempt} attempts",
                        status=status,
                        code=code,
                    ) from exc
                delay = self.policy.delay(attempt)
                log.warning(
                    "Twilio %s failed (%s); attempt %d of %d in %.2f s",
                    what,
                    _describe(exc),
                    attempt + 1,
                    self.policy.attempts,
                    delay,
                )
                self._sleep(delay)

    def dequeue(self, *, call_sid: str, queue_sid: str | None, url: str) -> str:
        """Take a waiting caller out of its Twilio queue to the TwiML at `url`.

        With the QueueSid, the queue member is dequeued; without it, or when Twilio says the
        caller is not (or no longer) a member of that queue, the call's URL is updated, which
        takes it out of wherever it is. Returns `member` or `call`, what was used.
        """
        if queue_sid:
            try:
                self._run(
                    "dequeue member",
                    lambda: (
                        self.client.queues(queue_sid)
                        .members(call_sid)
                        .update(url=url, method="POST")
                    ),
                )
                return "member"
            except CallGone:
                log.info("call %s is not a member of %s; redirecting the call", call_sid, queue_sid)
        self.redirect(call_sid=call_sid, url=url)
        return "call"

    def redirect(self, *, call_sid: str, url: str) -> None:
        """The live call leaves what it is doing and runs the TwiML at `url`."""
        call = self._run(
            "redirect call", lambda: self.client.calls(call_sid).update(url=url, method="POST")
        )
        status = getattr(call, "status", None)
        if status in ("completed", "canceled", "failed", "busy", "no-answer"):
            raise CallGone(f"call {call_sid} is already {status}")

    def hang_up(self, *, call_sid: str) -> bool:
        """End the call; False when it had already ended."""
        try:
            self._run("hang up", lambda: self.client.calls(call_sid).update(status="completed"))
        except CallGone:
            return False
        return True

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        status_events: Sequence[str] = ("initiated", "ringing", "answered", "completed"),
        timeout_s: int = 30,
    ) -> str:
        """An outbound call to `to` that runs the TwiML at `url` once answered; its CallSid."""
        call = self._run(
            "create call",
            lambda: self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=list(status_events),
                timeout=timeout_s,
            ),
            idempotent=False,
        )
        return str(call.sid)
