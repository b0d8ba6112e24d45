"""Injectable time for the venue: a manual scheduler for tests and an asyncio one for real runs."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Where the venue reads the time and parks delayed work (acks, delayed fills)."""

    def now(self) -> datetime:
        """Timezone-aware current time."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """Run `callback` after `delay` seconds."""
        ...


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualScheduler:
    """A scheduler whose clock only moves when a test calls `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("naive datetime")
        self._elapsed = 0.0
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    @property
    def elapsed(self) -> float:
        """Seconds advanced since the start."""
        return self._elapsed

    @property
    def pending(self) -> int:
        """How many scheduled callbacks have not run yet."""
        return sum(1 for t in self._timers if not t.cancelled)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        timer = _Timer(self._elapsed + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock forward, running every callback that falls due, in order."""
        target = self._elapsed + seconds
        while self._timers and self._timers[0].due <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._elapsed = max(self._elapsed, timer.due)
            timer.callback()
        self._elapsed = target


class AsyncioScheduler:
    """Real-time scheduler on the running asyncio loop; the clock reads the wall clock, or
    runs from a fixed `start` (tests that need, say, a Tuesday morning), in real time or
    `speed` times faster (tests that wait for 5-second bars)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("naive datetime")
        if not speed > 0 or (start is None and speed != 1.0):
            raise ValueError("speed must be positive, and 1 on the wall clock (no start)")
        self._loop = loop
        self._start = start
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        if self._start is None:
            return datetime.now(UTC)
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        loop = self._loop or asyncio.get_running_loop()
        return loop.call_later(max(0.0, delay) / self._speed, callback)
