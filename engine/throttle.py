"""The outbound message throttle: at most N broker messages per second, never dropping one."""

from __future__ import annotations

import asyncio
from collections import deque

from engine.clock import Clock


class OutboundThrottle:
    """A sliding one-second window; `acquire` waits for a slot instead of refusing."""

    def __init__(self, per_second: int, clock: Clock) -> None:
        self.per_second = per_second
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= 1.0:
            self._sent.popleft()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                self._prune(now)
                if len(self._sent) < self.per_second:
                    self._sent.append(now)
                    return
                await asyncio.sleep(max(0.001, 1.0 - (now - self._sent[0])))

    def sent_last_second(self) -> int:
        self._prune(self._clock.monotonic())
        return len(self._sent)
