"""The service's Twilio REST client, for any `TWILIO_API_BASE_URL`.

`twilio_client_for(base_url, account_sid, auth_token)` returns the official
`twilio.rest.Client`. The library builds every API URL on `https://api.twilio.com`
(`twilio.rest.api.ApiBase`); when `base_url` is anything else (the built-in emulator, a test
double, a proxy) the client's HTTP layer rewrites that prefix, so paging links
(`next_page_uri`) and every resource follow. Only the `api.twilio.com` domain is rewritten:
the service uses no other.
"""

from __future__ import annotations

import os
from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_API_ROOT = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending `https://api.twilio.com/...` requests to `base_url`."""

    def __init__(self, base_url: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        if self.session is not None:
            # Several service threads share one client; keep their connections pooled.
            self.session.mount(
                "http://", HTTPAdapter(pool_maxsize=min(32, (os.cpu_count() or 1) + 4))
            )

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API_ROOT):
            url = self.base_url + url[len(TWILIO_API_ROOT) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def twilio_client_for(
    base_url: str, account_sid: str, auth_token: str, *, timeout: float | None = DEFAULT_TIMEOUT
) -> Client:
    """The official Twilio client for this base URL and account."""
    if base_url.rstrip("/") == TWILIO_API_ROOT:
        http_client: TwilioHttpClient = TwilioHttpClient(timeout=timeout)
    else:
        http_client = RebasedHttpClient(base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)
