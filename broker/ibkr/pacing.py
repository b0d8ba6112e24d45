"""Outbound pacing (stay under TWS's 50 msg/s) and the reconnect backoff policy."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_MESSAGES_PER_SECOND = 45
"""Never pace faster than this: ib_async starts queueing (and drops the queue on disconnect)
above 45 requests/s, and TWS answers error 100 above 50."""

WINDOW_GUARD_S = 0.1


class OutboundPacer:
    """A sliding-window rate limiter for every message the adapter sends.

    `acquire(n)` waits until `n` messages fit in the window, so a bracket (3 messages) goes
    out back to back. Urgent requests (cancels, global cancel) jump ahead of queued orders.
    Because the adapter paces below ib_async's own throttle, ib_async never holds a queue
    that a disconnect could drop.
    """

    @classmethod
    def per_second(cls, rate: int) -> OutboundPacer:
        """A pacer of `rate` messages per second; refuses more than 45."""
        if not 0 < rate <= MAX_MESSAGES_PER_SECOND:
            raise ValueError(f"pacing must be 1..{MAX_MESSAGES_PER_SECOND} messages per second")
        # the guard absorbs scheduling and network jitter: the receiver must never count
        # more than `rate` messages in any one second
        return cls(rate, 1.0 + WINDOW_GUARD_S)

    def __init__(
        self,
        max_per_window: int = 40,
        window_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_per_window <= 0 or window_s <= 0:
            raise ValueError("the pacing window must hold at least one message")
        self._max = max_per_window
        self._window = window_s
        self._monotonic = monotonic
        self._sent: deque[float] = deque()
        self._waiters: list[tuple[int, int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def max_per_window(self) -> int:
        return self._max

    async def acquire(self, n: int = 1, *, urgent: bool = False) -> None:
        """Wait until `n` messages may be sent now (then send them without awaiting)."""
        if not 0 < n <= self._max:
            raise ValueError(f"cannot send {n} messages at once (window holds {self._max})")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (0 if urgent else 1, next(self._seq), n, fut))
        self._pump()
        await fut

    def _pump(self) -> None:
        now = self._monotonic()
        while self._sent and now - self._sent[0] >= self._window:
            self._sent.popleft()
        while self._waiters:
            _, _, n, fut = self._waiters[0]
            if fut.done():  # the waiter was cancelled
                heapq.heappop(self._waiters)
                continue
            if len(self._sent) + n > self._max:
                break
            heapq.heappop(self._waiters)
            self._sent.extend([now] * n)
            fut.set_result(None)
        if self._waiters and self._timer is None:
            n = self._waiters[0][2]
            # the slot frees when the (len + n - max)-th oldest send leaves the window
            idx = max(0, len(self._sent) + n - self._max - 1)
            delay = max(0.0, self._sent[idx] + self._window - now) if self._sent else 0.0
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def close(self) -> None:
        """Fail every waiter (used on shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for *_, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()


@dataclass
class ReconnectPolicy:
    """Exponential backoff, capped, with at most `max_attempts_per_minute` attempts.

    After error 326 (client id in use) the next attempt waits at least
    `client_id_in_use_delay_s`: the old session usually needs that long to be dropped by TWS.
    """

    initial_delay_s: float = 0.5
    """Before the first attempt after a drop: lets TWS notice the old socket is gone (an
    immediate reconnect tends to meet our own ghost session and get 326)."""
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_attempts_per_minute: int = 6
    client_id_in_use_delay_s: float = 15.0
    _attempts: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.max_attempts_per_minute <= 6:
            raise ValueError("at most 6 connection attempts a minute")

    def next_delay(self, failures: int, now: float, *, client_id_in_use: bool = False) -> float:
        """Seconds to wait before the next attempt, given consecutive failures so far."""
        delay = (
            self.initial_delay_s
            if failures == 0
            else min(self.base_delay_s * 2 ** (failures - 1), self.max_delay_s)
        )
        if client_id_in_use:
            delay = max(delay, self.client_id_in_use_delay_s)
        return delay + self.window_delay(now + delay)

    def window_delay(self, at: float) -> float:
        """Extra wait so an attempt at `at` keeps to the attempts-per-minute budget."""
        recent = [t for t in self._attempts if at - t < 60.0]
        if len(recent) < self.max_attempts_per_minute:
            return 0.0
        oldest = recent[-self.max_attempts_per_minute]
        return max(0.0, oldest + 60.0 - at)

    def record_attempt(self, now: float) -> None:
        self._attempts.append(now)
        while self._attempts and now - self._attempts[0] >= 60.0:
            self._attempts.popleft()

    def attempts_in_last_minute(self, now: float) -> int:
        return sum(1 for t in self._attempts if now - t < 60.0)
