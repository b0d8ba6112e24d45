"""Off-screen alerts: which engine events reach the trader away from the screen, rate-limited,
escalated when left unresolved, and never in the way of a trading path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.enums import AlertLevel, LifecycleState, TradingState
from contracts.events import (
    AlertRaised,
    DriftDetected,
    DriftResolved,
    PositionBead,
    TradingStateChanged,
)
from engine.bus import EventBus, Subscription
from engine.clock import Clock

log = logging.getLogger("deskgate.notify")

OFF_SCREEN_CODES = frozenset(
    {
        "STALLED",
        "DISCONNECTED",
        "CONNECTIVITY",
        "BROKER_UNAVAILABLE",
        "KILL",
        "SUBMIT_FAILED",
        "AUDIT_UNAVAILABLE",
        "MARGIN",
        "MARGIN_WARNING",
        "FOREIGN_ORDER",
        "UNKNOWN_ORDER",
        "NOT_AT_BROKER",
        "ROLLBACK_FAILED",
    }
)
"""Alert codes worth a ring away from the screen (plus every CRITICAL alert)."""


@dataclass(frozen=True)
class Notification:
    """One message for the trader's phone or desktop."""

    level: AlertLevel
    code: str
    title: str
    body: str
    escalated: bool = False


class NotificationSink(Protocol):
    """Somewhere a notification goes: the terminal (bell, OSC 777/9), apprise URLs, a test."""

    name: str

    async def send(self, notification: Notification) -> None: ...


@dataclass(frozen=True)
class NotifyPolicy:
    """Rate limits and escalation (seed 004: unresolved drift or STALLED escalates at 15 min)."""

    min_interval_s: float = 30.0
    """The same code (and subject) rings at most once in this many seconds."""
    max_per_minute: int = 10
    """All codes together; past this, notifications are counted and dropped."""
    escalate_after_s: float = 900.0
    queue_size: int = 100
    send_timeout_s: float = 10.0


def notification_for(event: Any) -> tuple[str, Notification] | None:
    """The notification an engine event deserves, keyed by what it is about; None for none."""
    match event:
        case AlertRaised(level=level, code=code) if (
            code in OFF_SCREEN_CODES or level is AlertLevel.CRITICAL
        ):
            subject = event.intent_id or ""
            return f"{code}:{subject}", Notification(
                level, code, f"deskgate {level.value}: {code}", event.message
            )
        case DriftDetected():
            return f"DRIFT:{event.drift_id}", Notification(
                AlertLevel.CRITICAL,
                "DRIFT",
                "deskgate: broker drift",
                f"{event.drift_type.value} on {event.subject}: engine {event.engine_state} "
                f"vs broker {event.broker_state}",
            )
        case TradingStateChanged(current=TradingState.HALTED, actor=actor) if actor != "trader":
            return "HALTED:", Notification(
                AlertLevel.CRITICAL, "AUTO_KILL", "deskgate: trading HALTED", event.reason
            )
    return None


def resolves(event: Any) -> str | None:
    """The key of an open notification this event resolves (for escalation), if any."""
    match event:
        case DriftResolved():
            return f"DRIFT:{event.drift_id}"
        case PositionBead(from_state=LifecycleState.STALLED):
            return f"STALLED:{event.intent_id}"
    return None


class AlertDispatcher:
    """Reads the engine's bus and hands notifications to sinks in the background.

    Nothing here can block or fail a trading path: the bus offer never waits, sinks run in their
    own task with a timeout, a failing sink is logged and the others still get the message.
    """

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        sinks: Sequence[NotificationSink],
        policy: NotifyPolicy | None = None,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._sinks = list(sinks)
        self.policy = policy or NotifyPolicy()
        self._last_sent: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._open: dict[str, tuple[float, Notification]] = {}
        """Unresolved drift/STALLED: key -> (first seen, monotonic; notification)."""
        self.sent: list[Notification] = []
        """What went out (newest last, bounded): for status and tests."""
        self.suppressed = 0
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def sinks(self) -> tuple[NotificationSink, ...]:
        return tuple(self._sinks)

    def add_sink(self, sink: NotificationSink) -> None:
        """Another place notifications go (e.g. a console status line); takes effect at once."""
        self._sinks.append(sink)

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._subscription = self._bus.subscribe(self.policy.queue_size)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notify")

    async def stop(self) -> None:
        if self._task is not None:
            task = self._task
            while not task.done():  # re-cancel: a cancel racing a sink's answer can be lost
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
            self._task = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def _run(self) -> None:
        assert self._subscription is not None
        while True:
            try:
                item = await asyncio.wait_for(self._subscription.get(), timeout=5.0)
            except TimeoutError:
                item = None
            if item is not None:
                await self.consider(item)
            await self.escalate_due()

    async def consider(self, event: Any) -> None:
        """Ring for `event` if it deserves it and the rate limits allow."""
        key = resolves(event)
        if key is not None:
            self._open.pop(key, None)
        found = notification_for(event)
        if found is None:
            return
        key, notification = found
        if key.startswith(("DRIFT:", "STALLED:")) and key not in self._open:
            self._open[key] = (self._clock.monotonic(), notification)
        await self._deliver(key, notification)

    async def escalate_due(self) -> None:
        """Re-send, as CRITICAL and marked escalated, what stayed unresolved past the limit."""
        now = self._clock.monotonic()
        for key, (since, notification) in list(self._open.items()):
            if now - since >= self.policy.escalate_after_s:
                del self._open[key]
                minutes = (now - since) / 60
                escalated = Notification(
                    AlertLevel.CRITICAL,
                    notification.code,
                    f"ESCALATED: {notification.title}",
                    f"unresolved for {minutes:.0f} min: {notification.body}",
                    escalated=True,
                )
                await self._deliver(f"ESCALATED:{key}", escalated, rate_limited=False)

    async def _deliver(
        self, key: str, notification: Notification, *, rate_limited: bool = True
    ) -> None:
        now = self._clock.monotonic()
        while self._recent and now - self._recent[0] > 60.0:
            self._recent.popleft()
        last = self._last_sent.get(key)
        if rate_limited and (
            (last is not None and now - last < self.policy.min_interval_s)
            or len(self._recent) >= self.policy.max_per_minute
        ):
            self.suppressed += 1
            return
        self._last_sent[key] = now
        self._recent.append(now)
        self.sent.append(notification)
        del self.sent[:-200]
        for sink in self._sinks:
            try:
                await asyncio.wait_for(sink.send(notification), self.policy.send_timeout_s)
            except Exception as exc:  # a sink never takes the others or the engine down
                log.warning("notification sink %s failed: %s", sink.name, exc)
