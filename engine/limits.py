"""Risk limits changed on the running engine: which way is tighter, validation, replay."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contracts.config import RiskConfig
from contracts.events import AuditedEvent, LimitChanged
from engine.audit import AuditUnavailable
from engine.recorder import EventRecorder
from engine.results import CommandResult

TIGHTER_WHEN_HIGHER = frozenset({"duplicate_window_s", "require_stop"})
"""Limits that get stricter as they grow; every other limit gets stricter as it shrinks."""
NOT_SETTABLE = frozenset({"max_orders_per_second"})
"""The outbound throttle's rate is fixed for the session (the broker's pacing sets it)."""
SETTABLE = tuple(name for name in RiskConfig.model_fields if name not in NOT_SETTABLE)


class LimitError(ValueError):
    """A limit change that is refused; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class LimitChange:
    """A validated change: the new risk limits and whether they are stricter than before."""

    key: str
    old: Any
    new: Any
    risk: RiskConfig
    tightens: bool


def tightens(key: str, old: Any, new: Any) -> bool:
    """True if moving `key` from `old` to `new` makes the engine stricter."""
    return bool(new > old) if key in TIGHTER_WHEN_HIGHER else bool(new < old)


def plan_limit_change(risk: RiskConfig, key: str, value: str, reason: str = "") -> LimitChange:
    """Validate `key = value` against the config's own rules; loosening needs a typed reason."""
    name = key.strip().removeprefix("risk.")
    if name not in SETTABLE:
        raise LimitError(f"unknown limit {key!r}; one of: {', '.join(SETTABLE)}")
    try:
        new_risk = RiskConfig.model_validate({**risk.model_dump(), name: value.strip()})
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"]
        raise LimitError(f"{name} = {value.strip()!r}: {msg}") from None
    old, new = getattr(risk, name), getattr(new_risk, name)
    if new == old:
        raise LimitError(f"{name} is already {old}")
    stricter = tightens(name, old, new)
    if not stricter and not reason.strip():
        raise LimitError(f"loosening {name} from {old} to {new} needs a typed reason")
    return LimitChange(name, old, new, new_risk, stricter)


def limits_after_restart(risk: RiskConfig, events: Iterable[LimitChanged]) -> RiskConfig:
    """The configured limits, with each limit's last change this store recorded kept only where
    it is stricter than the config: a restart may keep a tightening, never a loosening."""
    last: dict[str, str] = {}
    for event in events:
        last[event.key] = event.new
    current = risk
    for key, value in last.items():
        try:
            change = plan_limit_change(current, key, value)
        except LimitError:
            continue
        if change.tightens:
            current = change.risk
    return current


class RiskLimits:
    """The risk limits in force on the running engine: the config's, plus changes made since.

    Shared by every component that reads a limit (pre-trade checks, the kill switch), so a
    change applies everywhere at once.
    """

    def __init__(self, configured: RiskConfig, recorder: EventRecorder) -> None:
        self.configured = configured
        self.risk = configured
        self._recorder = recorder
        self._replayed: list[LimitChanged] = []

    def observe(self, event: AuditedEvent) -> None:
        """Replay hook: remember the limit changes this store recorded."""
        if isinstance(event, LimitChanged):
            self._replayed.append(event)

    def restore(self) -> None:
        """After replay: keep the recorded tightenings, never a loosening."""
        self.risk = limits_after_restart(self.configured, self._replayed)
        self._replayed.clear()

    def change(self, key: str, value: str, reason: str, actor: str) -> CommandResult:
        """Validate, record durably (LIMIT bead), then apply; the caller re-checks pending."""
        try:
            change = plan_limit_change(self.risk, key, value, reason)
        except LimitError as exc:
            return CommandResult(False, str(exc), "BAD_LIMIT")
        try:
            self._recorder.emit(
                LimitChanged(
                    **self._recorder.now_pair(),
                    key=change.key,
                    old=str(change.old),
                    new=str(change.new),
                    tightens=change.tightens,
                    reason=reason.strip(),
                    actor=actor,
                ),
                durable=True,
            )
        except AuditUnavailable as exc:
            return CommandResult(False, f"not changed: audit store unavailable ({exc})", "AUDIT")
        self.risk = change.risk
        verb = "tightened" if change.tightens else "loosened"
        return CommandResult(True, f"{change.key} {verb}: {change.old} -> {change.new}")
