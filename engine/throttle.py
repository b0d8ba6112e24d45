"""The outbound message throttle: at most N broker messages per second, never dropping one."""

from __future__ import annotations

import asyncio
from collections import deque

from engine.clock import Clock


class OutboundThrottle:
    """A sliding one-second window; `acquire` waits for a slot instead of refusing.

    Urgent messages (cancels, the kill switch) take the next free slot ahead of every
    queued normal message: a kill never waits behind a queue of new orders.
    """

    def __init__(self, per_second: int, clock: Clock) -> None:
        self.per_second = per_second
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._urgent_waiting = 0

    def _prune(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= 1.0:
            self._sent.popleft()

    def _take(self, *, urgent: bool) -> float:
        """Take a slot now and return 0, or return how long to wait for one."""
        now = self._clock.monotonic()
        self._prune(now)
        if len(self._sent) < self.per_second and (urgent or not self._urgent_waiting):
            self._sent.append(now)
            return 0.0
        oldest = self._sent[0] if self._sent else now
        return max(0.001, 1.0 - (now - oldest))

    async def acquire(self, *, urgent: bool = False) -> None:
        if urgent:
            self._urgent_waiting += 1
            try:
                await self._wait_for_slot(urgent=True)
            finally:
                self._urgent_waiting -= 1
            return
        async with self._lock:
            await self._wait_for_slot(urgent=False)

    async def _wait_for_slot(self, *, urgent: bool) -> None:
        while True:
            wait = self._take(urgent=urgent)
            if wait <= 0:
                return
            await asyncio.sleep(wait)
