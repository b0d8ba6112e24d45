"""The trade manager: positions, the actions the runtime asks of the engine, in-flight rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from contracts.enums import Side
from contracts.intent import Intent
from engine.strategy.decision import EntryDecision
from engine.strategy.records import TradeMode
from engine.strategy.templates import Context, Setup, Template


@dataclass(slots=True)
class Position:
    """One trade from entry order to exit (live or shadow). Satisfies `templates.OpenTrade`."""

    trade_id: str
    strategy: str
    mode: TradeMode
    symbol: str
    side: int
    quantity: int
    entry: float
    stop: float
    initial_stop: float
    target: float
    stop_ticks: int
    risk_usd: Decimal
    setup: Setup
    ordered: int = 0
    """Contracts the entry asked for (`quantity` is what filled, once it has)."""
    filled: bool = False
    entry_ts: datetime | None = None
    bars_waiting: int = 0
    bars_held: int = 0
    mfe_r: float = 0.0
    mae_r: float = 0.0
    exit_requested: str = ""

    def mark(self, high: float, low: float) -> None:
        """Track the best and worst excursion in R after a bar."""
        risk = abs(self.entry - self.initial_stop)
        if risk <= 0:
            return
        best = (high - self.entry) if self.side > 0 else (self.entry - low)
        worst = (self.entry - low) if self.side > 0 else (high - self.entry)
        self.mfe_r = max(self.mfe_r, best / risk)
        self.mae_r = max(self.mae_r, worst / risk)


# --- what the runtime asks of the engine (LIVE) or of the backtest venue ----------------------


@dataclass(frozen=True, slots=True)
class ProposeEntry:
    """Send this intent to the approval queue."""

    intent: Intent
    decision: EntryDecision


@dataclass(frozen=True, slots=True)
class RequestExit:
    """Close a live position at market (risk-reducing). `reason` is from records.EXIT_REASONS."""

    intent_id: str
    symbol: str
    side: Side
    """The closing side (the opposite of the position's)."""
    quantity: int
    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class RequestModify:
    """Move the working stop of a live position (e.g. to break-even): a broker modify."""

    intent_id: str
    stop_price: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class CancelEntry:
    """Cancel an unfilled entry (it outlived its bars)."""

    intent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RequestKill:
    """Throw the kill switch (DVS under the kill line, or a margin call)."""

    reason: str


Action = ProposeEntry | RequestExit | RequestModify | CancelEntry | RequestKill


@dataclass(frozen=True, slots=True)
class Exit:
    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class MoveStop:
    stop: float
    text: str


def manage(template: Template, ctx: Context, pos: Position) -> Exit | MoveStop | None:
    """One bar of in-flight management for a filled position, exits before stop moves."""
    pos.bars_held += 1
    pos.mark(ctx.signals.high, ctx.signals.low)
    if pos.exit_requested:
        return None
    verdict = template.plan_exit(ctx, pos)
    if verdict is not None:
        return Exit(*verdict)
    new_stop = template.plan_management(ctx, pos)
    if new_stop is not None and (new_stop - pos.stop) * pos.side > 0:
        return MoveStop(
            new_stop,
            f"{pos.strategy} stop to break-even {new_stop:,.2f} after {pos.mfe_r:.2f} R in favour",
        )
    return None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """One row of the console's strategies panel."""

    name: str
    mode: str
    quarantined: bool
    friction: float
    last_decision: str
    dvs: float
    eqs: float


@dataclass(frozen=True, slots=True)
class StrategyPanelView:
    """The console's strategies panel: a row per strategy, the journal's newest lines (newest
    first) and why the runtime stopped entering (empty while it may)."""

    rows: tuple[StrategyStatus, ...] = ()
    journal: tuple[str, ...] = ()
    halted: str = ""
