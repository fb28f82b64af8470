"""The emulator's own clock: real time, run faster or slower by a settable factor.

`time_scale` is real seconds per emulated second: with `time_scale=0.01` a 10 s `<Pause>`
takes 0.1 s of real time, and the call's reported duration still says 10 s. Everything the
emulator times (prompts, pauses, gather and dial timeouts, queue waits, durations, RFC 2822
dates) reads this clock; HTTP timeouts towards webhooks stay in real seconds. The emulator
keeps its own clock so that a service test that freezes the service's clock never freezes
the telephone network.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """Emulated time, counted from the moment the clock was made."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._real_start = time.monotonic()
        self._wall_start = datetime.now(UTC)

    def elapsed(self) -> float:
        """Emulated seconds since the clock started."""
        return (time.monotonic() - self._real_start) / self.time_scale

    def now(self) -> datetime:
        """The emulated current time, UTC, timezone-aware."""
        return self._wall_start + timedelta(seconds=self.elapsed())

    def real_seconds(self, emulated_seconds: float) -> float:
        """How long `emulated_seconds` last in real time."""
        return max(0.0, emulated_seconds) * self.time_scale
