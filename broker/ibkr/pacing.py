"""Outbound pacing (stay under TWS's 50 msg/s) and the reconnect backoff policy."""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

TWS_MESSAGES_PER_SECOND = 50
"""TWS answers error 100 (and disconnects on repeats) above this, counted as it receives: the
51st message of a second is the first refused ("max=50 rec=51")."""

BURST_WINDOW_S = 0.08
"""The bunching the pacer absorbs: a message may reach TWS up to this much later, relative to
the messages sent after it, than it left (the receiver reading late, the kernel). The sender's
own loop stalls do not bunch: a message counts from when it really leaves (see `_restamp`)."""

BURST_MESSAGES = 4
"""At most this many messages in any `BURST_WINDOW_S`: two 2-leg brackets (or one 3-leg) back
to back. 4 per 80 ms is a short-term 50/s, so it never binds a steady `MAX_MESSAGES_PER_SECOND`."""

SEND_LAG_S = 0.005
"""A message is stamped when its sender resumes; it reaches the socket after the sender has
encoded it (and any leg before it), a millisecond or more on a busy loop. The one-second
window waits this much longer, so one second at the socket (what ib_async's own throttle
counts) never holds more than the rate either."""

MAX_MESSAGES_PER_SECOND = TWS_MESSAGES_PER_SECOND - BURST_MESSAGES
"""46: IB's budget less the burst. A second as TWS counts it holds messages sent over at most
1 s + 80 ms: at most 46 from one sliding second plus 4 from the 80 ms burst = 50, never the 51st.
The margin is in time, not in count: TWS may read a message up to 80 ms late (8 % of a second)
and still never see more than its limit, at 92 % of IB's rate."""


class OutboundPacer:
    """A sliding-window rate limiter for every message the adapter sends.

    Two windows hold at once: at most `max_per_window` in any `window_s`, and at most
    `max_per_burst` in any `burst_s`. `acquire(n)` waits until `n` messages fit in both, so a
    bracket (2-3 messages) goes out back to back. Urgent requests (cancels, global cancel) jump
    ahead of queued orders; background requests (whatIf previews) go after them. A message
    counts from the moment its sender resumes (it sends without awaiting), not from when its
    slot was granted: a loop stall between the two must not bunch messages the pacer believes
    were spread out, and until the sender resumes every grant decision counts it as leaving
    then and there. ib_async's own throttle is set to the same rate (it counts at the socket,
    a few hundred microseconds after the pacer's stamp): it only ever holds a message for
    those microseconds, never a queue that a disconnect could drop.
    """

    @classmethod
    def per_second(
        cls, rate: int = MAX_MESSAGES_PER_SECOND, monotonic: Callable[[], float] = time.monotonic
    ) -> OutboundPacer:
        """A pacer of `rate` messages per second (at most 46), safe against 80 ms of bunching.

        At most 4 per 80 ms on top: a second as TWS counts it spans at most one second plus
        80 ms of sending, so it holds at most 46 + 4 = 50 (TWS refuses the 51st), and sustained
        sending still reaches `rate`.
        """
        if not 0 < rate <= MAX_MESSAGES_PER_SECOND:
            raise ValueError(f"pacing must be 1..{MAX_MESSAGES_PER_SECOND} messages per second")
        return cls(
            rate,
            1.0,
            monotonic,
            max_per_burst=BURST_MESSAGES,
            burst_s=BURST_WINDOW_S,
            send_lag_s=SEND_LAG_S,
        )

    def __init__(
        self,
        max_per_window: int = 40,
        window_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        max_per_burst: int | None = None,
        burst_s: float = BURST_WINDOW_S,
        send_lag_s: float = 0.0,
    ) -> None:
        burst = max_per_window if max_per_burst is None else max_per_burst
        if max_per_window <= 0 or window_s <= 0 or burst <= 0 or burst_s <= 0:
            raise ValueError("the pacing windows must hold at least one message")
        self._max = max_per_window
        self._window = window_s
        self._span = window_s + send_lag_s
        """How long a stamp holds its place in the window: the window plus the send lag."""
        self._burst = min(burst, max_per_window)
        self._burst_s = burst_s
        self._monotonic = monotonic
        self._sent: list[float] = []
        """When each message in the last `window_s` went out, oldest first."""
        self._waiters: list[tuple[int, int, int, asyncio.Future[float]]] = []
        self._unsent: dict[int, tuple[float, int]] = {}
        """Slots granted whose senders have not resumed yet, by waiter: (stamped at, messages).
        They leave no earlier than now, so every pump counts them as leaving now."""
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def max_per_window(self) -> int:
        return self._max

    async def acquire(self, n: int = 1, *, urgent: bool = False, background: bool = False) -> None:
        """Wait until `n` messages may be sent now (then send them without awaiting).

        `background` requests (whatIf previews) wait behind every queued order and cancel.
        """
        if not 0 < n <= self._burst:
            raise ValueError(f"cannot send {n} messages at once (a burst holds {self._burst})")
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        priority = 0 if urgent else (2 if background else 1)
        seq = next(self._seq)
        heapq.heappush(self._waiters, (priority, seq, n, fut))
        self._pump()
        try:
            await fut
        finally:
            self._leave(seq)

    def _leave(self, seq: int) -> None:
        """The sender resumed (it sends without awaiting), or was cancelled after its grant:
        its messages count from now, when they really go out."""
        unsent = self._unsent.pop(seq, None)
        if unsent is not None:
            self._restamp(*unsent, to=self._monotonic())

    def _restamp(self, stamped_at: float, n: int, *, to: float) -> None:
        """Move `n` sends stamped at `stamped_at` to `to`, when they really go out."""
        if to <= stamped_at:
            return
        for _ in range(n):
            index = bisect.bisect_left(self._sent, stamped_at)
            if index < len(self._sent) and self._sent[index] == stamped_at:
                del self._sent[index]
            bisect.insort(self._sent, to)

    def _free_at(self, n: int, limit: int, span: float) -> float:
        """When `n` more messages fit in `limit` per `span` (-inf: they fit now)."""
        excess = len(self._sent) + n - limit
        if excess <= 0:
            return float("-inf")
        # the (excess)-th oldest send must leave the span first
        return self._sent[excess - 1] + span

    def _ready_at(self, n: int) -> float:
        """When `n` more messages fit in both windows."""
        in_burst = len(self._sent) - bisect.bisect_right(
            self._sent, self._monotonic() - self._burst_s
        )
        burst_excess = in_burst + n - self._burst
        burst_free = (
            self._sent[len(self._sent) - in_burst + burst_excess - 1] + self._burst_s
            if burst_excess > 0
            else float("-inf")
        )
        return max(self._free_at(n, self._max, self._span), burst_free)

    def _pump(self) -> None:
        now = self._monotonic()
        for seq, (stamped_at, n) in self._unsent.items():
            # granted, but the loop has not resumed the sender yet (a stall): not gone before now
            self._restamp(stamped_at, n, to=now)
            self._unsent[seq] = (max(stamped_at, now), n)
        expired = bisect.bisect_right(self._sent, now - self._span)
        del self._sent[:expired]
        while self._waiters:
            _, seq, n, fut = self._waiters[0]
            if fut.done():  # the waiter was cancelled
                heapq.heappop(self._waiters)
                continue
            if self._ready_at(n) > now:
                break
            heapq.heappop(self._waiters)
            self._sent.extend([now] * n)
            self._unsent[seq] = (now, n)
            fut.set_result(now)
        if self._waiters and self._timer is None:
            delay = max(0.0, self._ready_at(self._waiters[0][2]) - now)
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
