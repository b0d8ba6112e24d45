"""TWS's inbound message pacing: 50 messages/s, error 100 when exceeded, disconnect on repeats."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
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

    @property
    def violations(self) -> int:
        return self._violations

    def admit(self, now: float) -> Verdict:
        """Count one inbound message at monotonic time `now`."""
        if now - self._window_start >= 1.0:
            self._window_start, self._count, self._warned = now, 0, False
        self._count += 1
        self.received_in_window = self._count
        if self._count <= self.policy.max_per_second:
            return Verdict.OK
        if self._warned:
            return Verdict.DROP
        self._warned = True
        if now - self._last_violation > self.policy.forget_after_s:
            self._violations = 0
        self._violations += 1
        self._last_violation = now
        if self._violations >= self.policy.max_violations:
            return Verdict.DISCONNECT
        return Verdict.WARN
