"""Small dataclass Messages the console posts upwards (engine changes, command results)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from contracts.enums import DriftResolution

if TYPE_CHECKING:  # the event models load with the engine, after the first frame
    from contracts.events import DriftDetected
    from engine.results import CommandResult

QUOTE_ONLY_REASONS = frozenset({"quote", "latency", "account", "quotes"})
"""Bus reasons that only change prices or latency; the drain worker throttles them."""


@dataclass
class EngineChanged(Message):
    """The engine's state changed; take a fresh snapshot. Bursts collapse to one."""

    reasons: frozenset[str] = frozenset()

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineChanged)


@dataclass
class EngineReady(Message):
    """`engine.start()` returned."""


@dataclass
class EngineStartFailed(Message):
    """`engine.start()` raised; the console keeps running to show why."""

    error: str


@dataclass
class CommandDone(Message):
    """An engine command (approve, reject, kill...) finished with a result."""

    command: str
    result: CommandResult
    subject: str = ""
    """What it acted on, in the trader's words (a trade's headline); "" for global commands."""


@dataclass
class PendingSelected(Message):
    """The trader moved the cursor in the approval queue."""

    intent_id: str | None


@dataclass
class StateWanted(Message):
    """A screen mounted and wants the current `ConsoleState` now, not at the next tick."""


@dataclass
class DriftResolveWanted(Message):
    """The trader picked a resolution for a drift on the drift screen; a note comes next."""

    drift: DriftDetected
    resolution: DriftResolution


class AlertsAcknowledged(Message):
    """The trader acknowledged these alerts (space in the Alerts panel)."""

    def __init__(self, event_ids: frozenset[str]) -> None:
        super().__init__()
        self.event_ids = event_ids


def bus_reason(item: Any) -> str:
    """A short name for a bus item: `StateChanged.reason`, an event's `kind`, or its type."""
    for attr in ("reason", "kind"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    return type(item).__name__
