"""What the console shows at one instant, and why approve is (un)available — pure logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from contracts.enums import LifecycleState, Mode, TradingState

if TYPE_CHECKING:  # the engine's models load with the engine, after the first frame
    from contracts.broker import Quote
    from engine.book import PendingOutcome
    from engine.results import CommandResult
    from engine.view import EngineSnapshot, OrderView, PendingApproval


@dataclass(frozen=True)
class ConsoleState:
    """Everything a screen needs for one frame (attributes down)."""

    snapshot: EngineSnapshot | None
    mode: Mode
    """The engine's mode, or the configured one before the first snapshot."""
    now: datetime
    now_mono: float
    phase: str
    """Start-up phase shown in the status bar ("connecting…", "start failed: ..."), or ""."""
    selected: PendingApproval | None
    blocker: str | None
    """Why approve is unavailable for the selected trade; None when `a` works."""
    quote: Quote | None = None
    """The market for the selected trade's symbol."""
    pending_history: tuple[PendingOutcome, ...] = ()
    """Pending trades that ended unsent, oldest first, with their reasons."""
    acknowledged: frozenset[str] = frozenset()
    """Alert event ids the trader acknowledged (space in the Alerts panel)."""
    quotes: tuple[tuple[str, Quote | None], ...] = ()
    """The quotes panel's rows: configured symbols and every symbol the trader is exposed to."""


def find_pending(snapshot: EngineSnapshot | None, intent_id: str | None) -> PendingApproval | None:
    if snapshot is None or intent_id is None:
        return None
    for pending in snapshot.pending:
        if pending.intent.intent_id == intent_id:
            return pending
    return None


def approve_blocker(
    snapshot: EngineSnapshot | None,
    pending: PendingApproval | None,
    now_mono: float,
    engine_verdict: CommandResult | None,
    *,
    busy: bool = False,
) -> str | None:
    """The one-line reason approve is unavailable, or None when it is available.

    The console's own checks come first because they explain the most common cases in the
    trader's words; the engine's `can_approve` verdict is the final word.
    """
    if snapshot is None:
        return "engine not started yet"
    if pending is None:
        return "no pending trade selected"
    if snapshot.trading_state is TradingState.HALTED:
        return "trading is HALTED (kill switch) - re-arm first"
    if snapshot.trading_state is TradingState.REDUCING and not pending.intent.reduces_risk:
        return "trading is REDUCING: only risk-reducing trades"
    if not snapshot.connection.connected:
        return "broker disconnected"
    if pending.seconds_left(now_mono) <= 0:
        return "approval token expired"
    denials = [c for c in pending.checks if not c.passed]
    if denials:
        first = denials[0]
        more = f" (+{len(denials) - 1} more)" if len(denials) > 1 else ""
        return f"risk denies: {first.name}: {first.detail}{more}"
    if engine_verdict is not None and not engine_verdict.ok:
        return engine_verdict.message or engine_verdict.code or "engine refuses"
    if busy:
        return "approval in flight"
    return None


def orders_at_broker(snapshot: EngineSnapshot | None) -> int:
    """Orders working at the broker now (0 before the engine has a snapshot): what the status
    bar shows and the kill and quit dialogs name. A filled entry whose bracket works (MANAGED)
    is its stop and target, each exit not yet filled or cancelled an order (a view without its
    legs counts one); an entry still working is one."""
    if snapshot is None:
        return 0
    return sum(_at_broker(o) for o in snapshot.orders if o.state.is_working)


def _at_broker(order: OrderView) -> int:
    if order.state is not LifecycleState.MANAGED or not order.legs:
        return 1
    return sum(1 for leg in order.legs if leg.filled < order.filled and not leg.gone)
