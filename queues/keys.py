"""Every Redis key of the queues, built here and nowhere else.

All keys carry the same hash tag, `{q}`, so they live in one Redis Cluster slot and every Lua
script of `queues.store` can touch all of them in one atomic step. The prefix (`sas` for the
service) lets a benchmark or a test work beside the service's data without touching it.

Layout for the default prefix:

| key | type | holds |
| --- | --- | --- |
| `sas:{q}:entries` | hash | call id -> packed entry (queue, priority, score, member, lease) |
| `sas:{q}:leases` | sorted set | held call ids by lease expiry (ms) |
| `sas:{q}:agents` | hash | agent id -> the call id that agent holds |
| `sas:{q}:generation` | string | random token set when the index was (re)built |
| `sas:{q}:waiting:<queue>` | sorted set | waiting members in service order |
| `sas:{q}:entered:<queue>` | sorted set | waiting call ids by time of entry (ms) |
| `sas:{q}:counts:<queue>` | hash | priority -> number waiting |
| `sas:{q}:answers:<queue>` | list | recent answer times, for wait estimates |
| `sas:{q}:announced:<call id>` | string | last wait announcement to a caller |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HASH_TAG = "{q}"
SERVICE_PREFIX = "sas"


@dataclass(frozen=True)
class QueueKeys:
    """The key names under one prefix."""

    prefix: str = SERVICE_PREFIX

    def __post_init__(self) -> None:
        # A brace in the prefix would become the hash tag and split the keys across slots.
        if not self.prefix or "{" in self.prefix or "}" in self.prefix or ":" in self.prefix:
            raise ValueError(f"unusable key prefix {self.prefix!r}")

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, HASH_TAG, *parts))

    @property
    def entries(self) -> str:
        return self._key("entries")

    @property
    def leases(self) -> str:
        return self._key("leases")

    @property
    def agents(self) -> str:
        return self._key("agents")

    @property
    def generation(self) -> str:
        return self._key("generation")

    def waiting(self, queue: str) -> str:
        return self._key("waiting", queue)

    def entered(self, queue: str) -> str:
        return self._key("entered", queue)

    def counts(self, queue: str) -> str:
        return self._key("counts", queue)

    def answers(self, queue: str) -> str:
        return self._key("answers", queue)

    def announced(self, call_id: int) -> str:
        return self._key("announced", str(call_id))

    def queue(self, queue: str) -> list[str]:
        """The three keys of one queue, side by side as `common.lua` reads them: waiting,
        entered, counts."""
        return [self.waiting(queue), self.entered(queue), self.counts(queue)]

    def layout(self, queues: Sequence[str]) -> list[str]:
        """The KEYS of the scripts that hold leases: entries, leases, agents, then the keys of
        each queue in turn (`queue`)."""
        keys = [self.entries, self.leases, self.agents]
        for queue in queues:
            keys += self.queue(queue)
        return keys

    def index(self, queues: Sequence[str]) -> list[str]:
        """Every key of the index itself (what a rebuild replaces), generation included."""
        return [*self.layout(queues), self.generation]


SERVICE = QueueKeys()
