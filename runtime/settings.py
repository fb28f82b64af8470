"""The service's configuration, read once from the environment (see `docs/configuration.md`).

`create_app(config)` passes a mapping that overrides the environment, with the same names.
Every default here is a project default, stated in the docs with its source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PRIORITIES = ("P0", "P1", "P2", "P3", "NR")

#: Ordering targets per queue family, seconds (domain.md, "Scales": project defaults).
DEFAULT_ARM_TARGETS = {"P0": 0, "P1": 30, "P2": 60, "P3": 60, "NR": 60}
DEFAULT_REGULATION_TARGETS = {"P0": 0, "P1": 120, "P2": 1200, "P3": 3600, "NR": 3600}

DEFAULT_VITAL_KEYWORDS = (
    "ne respire plus",
    "respire plus",
    "inconscient",
    "inconsciente",
    "arrêt cardiaque",
    "ne répond plus",
    "ne bouge plus",
    "s'étouffe",
    "hémorragie",
    "convulse",
)


class ConfigError(ValueError):
    """A configuration value that cannot be used; raised at start, never later."""


def _targets(raw: str, defaults: Mapping[str, int]) -> dict[str, int]:
    """`"P0=0,P1=30"` -> targets, the missing priorities keeping their defaults."""
    targets = dict(defaults)
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, value = part.partition("=")
        name = name.strip().upper()
        if name not in PRIORITIES or not value.strip().isdigit():
            raise ConfigError(f"bad target {part!r}: expected P0..P3/NR=seconds")
        targets[name] = int(value)
    return targets


def _numbers(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"bad boolean {raw!r}")


def _sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """`"10.0.0.1:26379,10.0.0.2:26379"` -> ((host, port), ...)."""
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{item!r} is not host:port")
        found.append((host, int(port)))
    return tuple(found)


#: The shortest retention the law allows for a medical record, and the database's own floor
#: (the append-only triggers refuse to delete anything younger).
MIN_RETENTION_YEARS = 20


@dataclass(frozen=True)
class Settings:
    port: int = 5000
    database_url: str = "sqlite:///sas.db"
    # Connections per process: at least one per request thread, so no thread waits for one.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout_s: int = 5
    redis_url: str | None = None
    # Redis behind Sentinel: the sentinels' addresses and the name of the master they watch.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "sas"
    secret_key: str | None = None
    public_base_url: str | None = None
    trusted_proxies: int = 0
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_validate_signature: bool = True
    #: True when no Twilio account is configured: the built-in emulator stands in for Twilio.
    emulator_mode: bool = False
    lease_seconds: int = 30
    # Lines: the dialled number picks the line; an unknown number is the public line.
    public_numbers: tuple[str, ...] = ("+33199000015",)
    pro_numbers: tuple[str, ...] = ("+33199000016",)
    # What the caller hears.
    ivr_voice: str = "Polly.Lea"
    ivr_language: str = "fr-FR"
    vital_keywords: tuple[str, ...] = DEFAULT_VITAL_KEYWORDS
    menu_timeout_s: int = 5
    hold_announce_every_s: int = 45
    hold_pause_s: int = 10
    hold_music_url: str | None = None
    callback_offer_after_s: int = 180
    redial_window_s: int = 600
    repeat_caller_window_h: int = 24
    # Overflow to a partner centre; never triggers without a partner number.
    overflow_after_s: int = 300
    overflow_number: str | None = None
    backup_number: str | None = None
    arm_targets: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ARM_TARGETS))
    regulation_targets: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_REGULATION_TARGETS)
    )
    #: Years a call's record is kept after its last activity (`flask retention purge`): a
    #: regulation record is a medical record, kept 20 years (CSP art. R.1112-7) at least.
    retention_years: int = MIN_RETENTION_YEARS

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Settings from the environment, then `overrides` (same names as the env vars)."""
        env: dict[str, Any] = dict(os.environ)
        env.update(overrides or {})
        values: dict[str, Any] = {}

        def get(name: str) -> Any:
            value = env.get(name)
            return None if value is None or value == "" else value

        simple: dict[str, tuple[str, Callable[[Any], Any]]] = {
            "PORT": ("port", int),
            "DATABASE_URL": ("database_url", str),
            "DB_POOL_SIZE": ("db_pool_size", int),
            "DB_MAX_OVERFLOW": ("db_max_overflow", int),
            "DB_POOL_TIMEOUT_S": ("db_pool_timeout_s", int),
            "REDIS_URL": ("redis_url", str),
            "REDIS_SENTINELS": ("redis_sentinels", lambda v: _sentinels(str(v))),
            "REDIS_SENTINEL_MASTER": ("redis_sentinel_master", str),
            "SECRET_KEY": ("secret_key", str),
            "PUBLIC_BASE_URL": ("public_base_url", lambda v: str(v).rstrip("/")),
            "TRUSTED_PROXIES": ("trusted_proxies", int),
            "TWILIO_ACCOUNT_SID": ("twilio_account_sid", str),
            "TWILIO_AUTH_TOKEN": ("twilio_auth_token", str),
            "TWILIO_API_BASE_URL": ("twilio_api_base_url", lambda v: str(v).rstrip("/")),
            "TWILIO_VALIDATE_SIGNATURE": ("twilio_validate_signature", lambda v: _flag(str(v))),
            "TWILIO_EMULATOR": ("emulator_mode", lambda v: _flag(str(v))),
            "LEASE_SECONDS": ("lease_seconds", int),
            "SAS_PUBLIC_NUMBERS": ("public_numbers", lambda v: _numbers(str(v))),
            "SAS_PRO_NUMBERS": ("pro_numbers", lambda v: _numbers(str(v))),
            "IVR_VOICE": ("ivr_voice", str),
            "IVR_VITAL_KEYWORDS": (
                "vital_keywords",
                lambda v: tuple(k.strip().lower() for k in str(v).split(",") if k.strip()),
            ),
            "IVR_MENU_TIMEOUT_S": ("menu_timeout_s", int),
            "HOLD_ANNOUNCE_EVERY_S": ("hold_announce_every_s", int),
            "HOLD_PAUSE_S": ("hold_pause_s", int),
            "HOLD_MUSIC_URL": ("hold_music_url", str),
            "CALLBACK_OFFER_AFTER_S": ("callback_offer_after_s", int),
            "REDIAL_WINDOW_S": ("redial_window_s", int),
            "REPEAT_CALLER_WINDOW_H": ("repeat_caller_window_h", int),
            "OVERFLOW_AFTER_S": ("overflow_after_s", int),
            "OVERFLOW_NUMBER": ("overflow_number", str),
            "BACKUP_NUMBER": ("backup_number", str),
            "ARM_TARGETS": ("arm_targets", lambda v: _targets(str(v), DEFAULT_ARM_TARGETS)),
            "REGULATION_TARGETS": (
                "regulation_targets",
                lambda v: _targets(str(v), DEFAULT_REGULATION_TARGETS),
            ),
            "RETENTION_YEARS": ("retention_years", int),
        }
        for env_name, (attr, convert) in simple.items():
            raw = get(env_name)
            if raw is None:
                continue
            try:
                values[attr] = convert(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{env_name}: {exc}") from exc
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("lease_seconds", "hold_pause_s", "menu_timeout_s", "db_pool_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.hold_announce_every_s < 45:
            raise ConfigError("HOLD_ANNOUNCE_EVERY_S must be at least 45 (at most every 45 s)")
        if self.db_max_overflow < 0 or self.db_pool_timeout_s <= 0:
            raise ConfigError("DB_MAX_OVERFLOW must be >= 0 and DB_POOL_TIMEOUT_S positive")
        if self.retention_years < MIN_RETENTION_YEARS:
            raise ConfigError(
                f"RETENTION_YEARS must be at least {MIN_RETENTION_YEARS}: a regulation record"
                " is a medical record (Code de la santé publique, art. R.1112-7)"
            )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
