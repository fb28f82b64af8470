"""Which queue a call waits in, and its deadline there.

A call's deadline is the time it entered the queue plus the target wait of its priority in
that queue family (ARM answer targets for `arm` and `callback`; regulation targets for
`amu` and `liberal`). The targets are the project defaults of `domain.md`, configurable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from runtime.settings import Settings

ARM_QUEUES = ("arm", "callback")
REGULATION_QUEUES = ("amu", "liberal")
ALL_QUEUES = ARM_QUEUES + REGULATION_QUEUES


def target_seconds(settings: Settings, *, queue: str, priority: str) -> int:
    if queue in ARM_QUEUES:
        return settings.arm_targets[priority]
    if queue in REGULATION_QUEUES:
        return settings.regulation_targets[priority]
    raise ValueError(f"unknown queue {queue!r}")


def deadline_for(
    settings: Settings, *, queue: str, priority: str, enqueued_at: datetime
) -> datetime:
    return enqueued_at + timedelta(seconds=target_seconds(settings, queue=queue, priority=priority))


def queue_for_track(track: str) -> str:
    if track not in REGULATION_QUEUES:
        raise ValueError(f"unknown track {track!r}")
    return track
