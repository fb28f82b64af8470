"""Every Redis key of the dashboards, built here and nowhere else.

All keys carry the hash tag `{d}`, so the Lua scripts of `dashboards.live` stay valid on
Redis Cluster. The prefix (`sas` for the service) lets a benchmark work beside the service.

| key | type | holds |
| --- | --- | --- |
| `sas:{d}:arrivals` | sorted set | call id by arrival (ms), last 25 h |
| `sas:{d}:answered` | sorted set | call id by first answer (ms) |
| `sas:{d}:answered_within` | sorted set | the answered calls whose answer met its target |
| `sas:{d}:abandoned` | sorted set | call id by hang-up (ms): abandons after 15 s or more |
| `sas:{d}:abandoned_within` | sorted set | those abandons that came within the target |
| `sas:{d}:short_abandoned` | sorted set | the other abandons (short, or in the IVR) |
| `sas:{d}:answer_times:<hour>` | hash | answer-time histogram bin -> count, per UTC hour |
| `sas:{d}:generation` | string | set when the sets were (re)built from the database |

Pub/sub channel `sas:dashboard:changed`: a message on every change the live view shows.
"""

from __future__ import annotations

from dataclasses import dataclass

HASH_TAG = "{d}"
SERVICE_PREFIX = "sas"
#: The sorted sets of call ids, in the order the Lua scripts take them.
SETS = (
    "arrivals",
    "answered",
    "answered_within",
    "abandoned",
    "abandoned_within",
    "short_abandoned",
)


@dataclass(frozen=True)
class LiveKeys:
    prefix: str = SERVICE_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "{}:"):
            raise ValueError(f"unusable key prefix {self.prefix!r}")

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, HASH_TAG, *parts))

    def set(self, name: str) -> str:
        if name not in SETS:
            raise ValueError(f"unknown live set {name!r}")
        return self._key(name)

    @property
    def sets(self) -> list[str]:
        return [self._key(name) for name in SETS]

    def answer_times(self, hour: int) -> str:
        """The histogram of answers given during the UTC hour `hour` (hours since epoch)."""
        return self._key("answer_times", str(hour))

    @property
    def generation(self) -> str:
        return self._key("generation")

    @property
    def channel(self) -> str:
        return f"{self.prefix}:dashboard:changed"


SERVICE = LiveKeys()
