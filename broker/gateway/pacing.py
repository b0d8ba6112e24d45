"""TWS's inbound message pacing: 50 messages/s, error 100 when exceeded, disconnect on repeats."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class PacingVerdict(StrEnum):
    OK = "OK"
    WARN = "WARN"
    """Over the limit: drop the message and send error 100."""
    DROP = "DROP"
    """Still over the limit in a window already warned about: drop silently."""
    DISCONNECT = "DISCONNECT"


@dataclass(frozen=True)
class PacingPolicy:
    max_per_second: int = 50
    max_violations: int = 3
    """Violating windows (within `forget_after_s` of each other) before the disconnect."""
    forget_after_s: float = 10.0


class Pacer:
    """Fixed one-second windows; each window that goes over the limit is one violation."""

    def __init__(self, policy: PacingPolicy | None = None) -> None:
        self.policy = policy or PacingPolicy()
        self._window_start = 0.0
        self._count = 0
        self._warned = False
        self._violations = 0
        self._last_violation = float("-inf")
        self.received_in_window = 0
        self.busiest_window = 0
        """The most requests any one window has received so far (refused ones included)."""
        self.received = 0
        """Every request counted so far (refused ones included)."""

    @property
    def violations(self) -> int:
        return self._violations

    def admit(self, now: float) -> PacingVerdict:
        """Count one inbound message at monotonic time `now`."""
        if now - self._window_start >= 1.0:
            self._window_start, self._count, self._warned = now, 0, False
        self._count += 1
        self.received += 1
        self.received_in_window = self._count
        self.busiest_window = max(self.busiest_window, self._count)
        if self._count <= self.policy.max_per_second:
            return PacingVerdict.OK
        if self._warned:
            return PacingVerdict.DROP
        self._warned = True
        if now - self._last_violation > self.policy.forget_after_s:
            self._violations = 0
        self._violations += 1
        self._last_violation = now
        if self._violations >= self.policy.max_violations:
            return PacingVerdict.DISCONNECT
        return PacingVerdict.WARN


class ArrivalClock(asyncio.Protocol):
    """When each request reached the gateway, as TWS counts it: on receipt, not on processing.

    TWS's reader thread takes bytes off the socket as they arrive; how long it then takes to
    process a request does not move it into a later second. The gateway serves a connection
    one request at a time on the event loop, so a burst that arrived together is processed
    over tens of milliseconds (more on a loaded machine); stamped on processing, it would be
    counted as if the client had sent it later. Installed in front of the connection's own
    protocol, this stamps every chunk as the transport hands it over.
    """

    def __init__(self, transport: asyncio.BaseTransport, clock: Callable[[], float]) -> None:
        self._inner = transport.get_protocol()
        self._clock = clock
        self._ends: list[int] = []
        """Cumulative byte count at the end of each chunk received and not yet consumed."""
        self._times: list[float] = []
        self._received = 0
        self._consumed = 0
        transport.set_protocol(self)

    def consumed(self, n: int) -> float:
        """The session has read `n` more bytes; returns when the last of them arrived."""
        self._consumed += n
        index = min(bisect.bisect_left(self._ends, self._consumed), len(self._ends) - 1)
        arrived = self._times[index] if self._times else self._clock()
        del self._ends[:index]
        del self._times[:index]
        return arrived

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        self._ends.append(self._received)
        self._times.append(self._clock())
        self._forward().data_received(data)

    def eof_received(self) -> bool | None:
        return self._forward().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _forward(self) -> asyncio.Protocol:
        assert isinstance(self._inner, asyncio.Protocol)
        return self._inner
