"""The regulation part's own settings, read like `runtime.settings`: the environment, then
the mapping given to `create_app` (same names). Every default is a project default, stated
in `docs/regulation.md`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.settings import ConfigError


@dataclass(frozen=True)
class RegulationSettings:
    #: Lifetime of a bearer token from `POST /api/auth/token`.
    api_token_ttl_s: int = 12 * 3600
    #: Failed logins allowed per account and per client address within the window.
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_throttle_window_s: int = 900
    #: Argon2id cost (RFC 9106's second recommended option by default).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    #: Twilio REST: per-request timeout, attempts on 5xx / 429 / timeouts, first back-off.
    twilio_rest_timeout_s: float = 5.0
    twilio_rest_attempts: int = 3
    twilio_rest_backoff_s: float = 0.5
    #: How long the agent's softphone rings before the caller goes back to their place.
    agent_ring_timeout_s: int = 20
    #: Outbound callbacks: ring time, attempts, delay between two attempts.
    callback_ring_timeout_s: int = 30
    callback_max_attempts: int = 3
    callback_retry_delay_s: int = 300
    #: The browser softphone's Voice access token: a Twilio API key (SID and secret) and,
    #: for outgoing calls, a TwiML App. Without a key, no token is issued (503), except in
    #: emulator mode where the account's own credentials sign it.
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret: str | None = None
    twilio_twiml_app_sid: str | None = None
    voice_token_ttl_s: int = 3600

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> RegulationSettings:
        env: dict[str, Any] = dict(os.environ)
        env.update(overrides or {})
        names: dict[str, tuple[str, Callable[[Any], Any]]] = {
            "API_TOKEN_TTL_S": ("api_token_ttl_s", int),
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": ("login_max_failures_per_account", int),
            "LOGIN_MAX_FAILURES_PER_ADDRESS": ("login_max_failures_per_address", int),
            "LOGIN_THROTTLE_WINDOW_S": ("login_throttle_window_s", int),
            "ARGON2_TIME_COST": ("argon2_time_cost", int),
            "ARGON2_MEMORY_KIB": ("argon2_memory_kib", int),
            "TWILIO_REST_TIMEOUT_S": ("twilio_rest_timeout_s", float),
            "TWILIO_REST_ATTEMPTS": ("twilio_rest_attempts", int),
            "TWILIO_REST_BACKOFF_S": ("twilio_rest_backoff_s", float),
            "AGENT_RING_TIMEOUT_S": ("agent_ring_timeout_s", int),
            "CALLBACK_RING_TIMEOUT_S": ("callback_ring_timeout_s", int),
            "CALLBACK_MAX_ATTEMPTS": ("callback_max_attempts", int),
            "CALLBACK_RETRY_DELAY_S": ("callback_retry_delay_s", int),
            "TWILIO_API_KEY_SID": ("twilio_api_key_sid", str),
            "TWILIO_API_KEY_SECRET": ("twilio_api_key_secret", str),
            "TWILIO_TWIML_APP_SID": ("twilio_twiml_app_sid", str),
            "VOICE_TOKEN_TTL_S": ("voice_token_ttl_s", int),
        }
        values: dict[str, Any] = {}
        for env_name, (attr, convert) in names.items():
            raw = env.get(env_name)
            if raw is None or raw == "":
                continue
            try:
                values[attr] = convert(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{env_name}: {exc}") from exc
        settings = cls(**values)
        for attr in (
            "api_token_ttl_s",
            "login_max_failures_per_account",
            "login_max_failures_per_address",
            "login_throttle_window_s",
            "argon2_time_cost",
            "twilio_rest_attempts",
            "agent_ring_timeout_s",
            "callback_ring_timeout_s",
            "callback_max_attempts",
            "voice_token_ttl_s",
        ):
            if getattr(settings, attr) <= 0:
                raise ConfigError(f"{attr.upper()} must be positive")
        if settings.argon2_memory_kib < 8 or settings.twilio_rest_timeout_s <= 0:
            raise ConfigError("ARGON2_MEMORY_KIB must be at least 8, TWILIO_REST_TIMEOUT_S > 0")
        return settings
