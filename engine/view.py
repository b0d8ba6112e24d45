"""Read-only snapshots of engine state, for the console and the CLI (attributes down)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from contracts.broker import AccountSnapshot
from contracts.enums import LifecycleState, Mode, OrderType, Side, TradingState
from contracts.events import AlertRaised, CheckOutcome, DriftDetected
from contracts.intent import Intent
from engine.gates import GateResult
from engine.scale import TierStatus


@dataclass(frozen=True)
class PendingApproval:
    """An intent waiting for the trader, with the token that approves it."""

    intent: Intent
    token: str
    """The approval capability; present it back to `Engine.approve`. Never log it."""
    token_id: str
    issued_at: datetime
    expires_at: datetime
    expires_monotonic: float
    checks: tuple[CheckOutcome, ...]
    evidence_hash: str

    def seconds_left(self, monotonic_now: float) -> float:
        return max(0.0, self.expires_monotonic - monotonic_now)

    @property
    def risk_ok(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class OrderView:
    intent_id: str
    symbol: str
    side: Side
    order_type: OrderType
    requested: Decimal
    filled: Decimal
    state: LifecycleState
    state_since: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    avg_fill_price: Decimal | None = None
    perm_id: int | None = None
    unknown: bool = False
    """True while disconnected: the broker side cannot be confirmed."""

    @property
    def ratio(self) -> Decimal:
        return self.filled / self.requested if self.requested else Decimal(0)


@dataclass(frozen=True)
class PositionView:
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    last: Decimal | None
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fill_ratio: Decimal | None = None


@dataclass(frozen=True)
class ConnectionView:
    broker: str
    connected: bool
    account_id: str
    is_paper: bool
    farms: dict[str, bool] = field(default_factory=dict)
    last_quote_at: datetime | None = None


@dataclass(frozen=True)
class KillFlagView:
    flag: str
    reason: str
    expires_at: datetime | None


@dataclass(frozen=True)
class BeadView:
    seq: int
    ts: datetime
    kind: str
    intent_id: str | None
    summary: str


@dataclass(frozen=True)
class LatencyView:
    """Samples in milliseconds, newest last, per stage."""

    intent_to_submit: tuple[float, ...] = ()
    submit_to_ack: tuple[float, ...] = ()
    ack_to_fill: tuple[float, ...] = ()


@dataclass(frozen=True)
class EngineSnapshot:
    mode: Mode
    trading_state: TradingState
    kill_confirmed: bool | None
    """After a kill: False until the broker reports no working orders, then True."""
    kill_flags: tuple[KillFlagView, ...]
    connection: ConnectionView
    account: AccountSnapshot | None
    pending: tuple[PendingApproval, ...]
    orders: tuple[OrderView, ...]
    positions: tuple[PositionView, ...]
    alerts: tuple[AlertRaised, ...]
    latency: LatencyView
    audit_tail: tuple[BeadView, ...]
    trades_today: int
    realized_pnl_today: Decimal
    consecutive_losses: int
    taken_at: datetime
    monotonic_at: float
    drifts: tuple[DriftDetected, ...] = ()
    """Unresolved reconciliation drifts, oldest first."""
    gates: tuple[GateResult, ...] | None = None
    """Go-live gate results (number, name, verdict, detail, numbers); None if not evaluated."""
    scale_tier: TierStatus | None = None
    """The scale-up capital tier in force (None when no go-live date is configured)."""
