"""The engine's in-memory state: a projection built only by applying audited events."""

from __future__ import annotations

from collections import deque
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from contracts.broker import order_ref_for, parse_order_ref
from contracts.enums import (
    DriftResolution,
    LifecycleState,
    OrderLeg,
    Side,
    TokenRejection,
    TradingState,
)
from contracts.events import (
    AlertRaised,
    AuditedEvent,
    CommissionRecorded,
    DriftDetected,
    DriftResolved,
    FillRecorded,
    IntentReceived,
    KillConfirmation,
    KillFlagCleared,
    KillFlagRaised,
    OrderAcknowledged,
    OrderCancelConfirmed,
    OrderRejectedByBroker,
    OrderSubmitting,
    PositionBead,
    PositionCorrected,
    PromotionApproved,
    PromotionRequested,
    RiskChecked,
    SubmitFailed,
    TokenExpired,
    TokenIssued,
    TraderRejected,
    TradingStateChanged,
)
from contracts.intent import Intent

ZERO = Decimal(0)
EXCHANGE_TZ = ZoneInfo("America/New_York")
SESSION_ROLL = timedelta(hours=6)
"""A trading session starts at 18:00 New York time (CME Globex opens; US equities are shut)."""
ENTRY_OPEN_STATES = frozenset(
    {
        LifecycleState.APPROVED,
        LifecycleState.SUBMITTED,
        LifecycleState.STALLED,
        LifecycleState.PENDING_CANCEL,
    }
)
EXITS_WORKING_STATES = frozenset({LifecycleState.FILLED, LifecycleState.MANAGED})
"""States in which an entry's bracket exits (stop, target) work at the broker."""
FINAL_STATES = frozenset({LifecycleState.CLOSED, LifecycleState.REJECTED, LifecycleState.EXPIRED})
"""States no edge leaves (CANCELLED is not final: a fill can still race a cancel)."""


ENTRY_REFUSAL_MARKER = "read-only"
"""In a broker refusal's reason: the session refuses every order (TWS read-only API)."""


def refused_entry(reason: str) -> bool:
    """Whether a send failed because the broker refuses all order entry (not a trade)."""
    return ENTRY_REFUSAL_MARKER in reason.lower()


@dataclass
class IntentRecord:
    """One intent's journey: state, broker ids, fills per leg, latency marks."""

    intent: Intent
    source: str
    state: LifecycleState
    state_since: datetime
    received_at: datetime
    token_id: str | None = None
    order_ref: str | None = None
    perm_id: int | None = None
    broker_order_id: int | None = None
    submitted_at: datetime | None = None
    acked_at: datetime | None = None
    first_fill_at: datetime | None = None
    filled: dict[OrderLeg, Decimal] = field(default_factory=dict)
    fill_notional: dict[OrderLeg, Decimal] = field(default_factory=dict)
    exempt: str | None = None
    exits_gone: set[OrderLeg] = field(default_factory=set)
    """Bracket exits the broker no longer works, each recorded by a CANCELLED bead naming the
    leg's orderRef (heard cancelled, or adopted from a reconciliation); never placed again."""

    @property
    def requested(self) -> Decimal:
        return self.intent.order.quantity

    @property
    def entry_filled(self) -> Decimal:
        return self.filled.get(OrderLeg.ENTRY, ZERO) + self.filled.get(OrderLeg.FLATTEN, ZERO)

    @property
    def exit_filled(self) -> Decimal:
        return self.filled.get(OrderLeg.STOP_LOSS, ZERO) + self.filled.get(
            OrderLeg.TAKE_PROFIT, ZERO
        )

    def avg_price(self, leg: OrderLeg) -> Decimal | None:
        qty = self.filled.get(leg, ZERO)
        return self.fill_notional.get(leg, ZERO) / qty if qty else None

    @property
    def exit_legs(self) -> tuple[OrderLeg, ...]:
        """The bracket exits this intent's order carries (stop, target, either or none)."""
        o = self.intent.order
        return tuple(
            leg
            for leg, price in (
                (OrderLeg.STOP_LOSS, o.stop_loss),
                (OrderLeg.TAKE_PROFIT, o.take_profit),
            )
            if price is not None
        )

    @property
    def standing_exits(self) -> tuple[OrderLeg, ...]:
        """The bracket exits not known gone at the broker."""
        return tuple(leg for leg in self.exit_legs if leg not in self.exits_gone)

    @property
    def protected(self) -> bool:
        """Whether a standing exit still protects the position: its stop (its target, for a
        bracket with no stop)."""
        standing = self.standing_exits
        if OrderLeg.STOP_LOSS in self.exit_legs:
            return OrderLeg.STOP_LOSS in standing
        return bool(standing)

    def exits_missing(self, open_at_broker: Container[str]) -> list[OrderLeg]:
        """This intent's standing exits whose orderRef `open_at_broker` does not hold."""
        iid = self.intent.intent_id
        return [leg for leg in self.standing_exits if order_ref_for(iid, leg) not in open_at_broker]

    @property
    def has_exits(self) -> bool:
        return bool(self.exit_legs)


@dataclass(frozen=True)
class PendingOutcome:
    """A pending trade that ended without being sent: expired, voided, rejected or denied."""

    intent_id: str
    symbol: str
    side: Side
    quantity: Decimal
    outcome: str
    """EXPIRED, VOIDED, REJECTED (by the trader) or DENIED (by a risk check)."""
    reason: str
    at: datetime


PENDING_HISTORY = 500
REOFFERED_OR_REJECTED = frozenset({TokenRejection.VOID_AFTER_RESTART, TokenRejection.VOID_REJECTED})
"""Token voids that do not end a pending trade by themselves: a restart re-offers the intent,
and a trader's reject is its own history entry."""


@dataclass
class PositionState:
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized: Decimal = ZERO
    round_trip_pnl: Decimal = ZERO
    multiplier: Decimal = Decimal(1)


@dataclass
class Book:
    """Everything the engine knows, rebuilt from the audit log on restart."""

    records: dict[str, IntentRecord] = field(default_factory=dict)
    by_ref: dict[str, str] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    trading_state: TradingState = TradingState.ACTIVE
    trading_state_actor: str = ""
    kill_flags: dict[str, KillFlagRaised] = field(default_factory=dict)
    kill_confirmed: bool | None = None
    seen_exec_ids: set[str] = field(default_factory=set)
    exec_pnl: dict[str, Decimal] = field(default_factory=dict)
    commissioned: set[str] = field(default_factory=set)
    """Exec ids whose commission is booked (a resync after a restart reports them again)."""
    alerts: deque[AlertRaised] = field(default_factory=lambda: deque(maxlen=200))
    trading_day: date | None = None
    trades_today: int = 0
    realized_today: Decimal = ZERO
    """Realized P&L today, net of commissions."""
    commissions_today: Decimal = ZERO
    consecutive_losses: int = 0
    """Losing round trips in a row this session; the lockout ends with the session."""
    losses_at_rearm: int = 0
    """consecutive_losses when the trader last re-armed: only a new loss may halt again."""
    realized_at_rearm: Decimal | None = None
    """realized_today when the trader last re-armed (None: no re-arm this session)."""
    issued_tokens: dict[str, TokenIssued] = field(default_factory=dict)
    drifts: dict[str, DriftDetected] = field(default_factory=dict)
    """Unresolved reconciliation drifts, by drift id."""
    accepted_drifts: set[tuple[str, str, str, str]] = field(default_factory=set)
    """Fingerprints of ACKNOWLEDGED drifts: not raised again while unchanged."""
    strategy_stages: dict[str, str] = field(default_factory=dict)
    """Strategy -> stage (SHADOW unless a PROMOTION_APPROVED says otherwise)."""
    promotion_requests: dict[str, PromotionRequested] = field(default_factory=dict)
    entry_fill_ratio: dict[str, Decimal] = field(default_factory=dict)
    """Filled/requested of the latest entry that filled, per symbol."""
    open_entry_qty: dict[str, Decimal] = field(default_factory=dict)
    """Unfilled entry quantity of each approved or working record, by intent."""
    working_qty: dict[tuple[str, Side], Decimal] = field(default_factory=dict)
    """Sum of open_entry_qty per (symbol, side): what position limits count."""
    live: dict[str, IntentRecord] = field(default_factory=dict)
    """Records not yet in a final state, by intent."""
    _orders_at_broker: dict[tuple[str, Side], int] = field(default_factory=dict, repr=False)
    """How many orders work at the broker per (symbol, side): open entries and live exits."""
    _counted: dict[str, tuple[tuple[str, Side], int]] = field(default_factory=dict, repr=False)
    """Each record's share of _orders_at_broker, so a state change moves only its own."""
    pending_history: deque[PendingOutcome] = field(
        default_factory=lambda: deque(maxlen=PENDING_HISTORY)
    )
    """Pending trades that ended unsent, oldest first, with their reason."""

    def apply(self, event: AuditedEvent) -> None:
        """Fold one event into the state. Must be deterministic: replay rebuilds the same."""
        self.roll_session(event.ts_event)
        match event:
            case IntentReceived():
                rec = IntentRecord(
                    intent=event.intent,
                    source=event.source,
                    state=LifecycleState.PROPOSED,
                    state_since=event.ts_event,
                    received_at=event.ts_event,
                )
                self.records[event.intent.intent_id] = rec
                self.live[event.intent.intent_id] = rec
            case PositionBead():
                rec = self.records[event.intent_id]
                rec.state = event.to_state
                rec.state_since = event.ts_event
                self._index(rec)
            case TokenIssued():
                self.records[event.intent_id].token_id = event.token_id
                self.issued_tokens[event.token_id] = event
            case TokenExpired() if event.reason not in REOFFERED_OR_REJECTED:
                void = event.reason is not TokenRejection.EXPIRED
                self._pending_ended(
                    event, event.intent_id, "VOIDED" if void else "EXPIRED", event.reason.value
                )
            case TraderRejected():
                self._pending_ended(event, event.intent_id, "REJECTED", event.reason or "trader")
            case RiskChecked():
                denials = [c for c in event.checks if not c.passed]
                if denials:
                    reasons = "; ".join(f"{c.reason}: {c.detail}" for c in denials)
                    self._pending_ended(event, event.intent_id, "DENIED", reasons)
            case OrderSubmitting():
                rec = self.records[event.intent_id]
                rec.order_ref = event.request.order_ref
                rec.submitted_at = event.ts_event
                rec.exempt = event.exempt
                self.by_ref[event.request.order_ref] = event.intent_id
                if event.exempt is None:
                    self.trades_today += 1
            case SubmitFailed() | OrderRejectedByBroker() if refused_entry(event.reason):
                rec = self.records[event.intent_id]
                if rec.exempt is None and rec.submitted_at is not None:
                    self.trades_today = max(0, self.trades_today - 1)  # never left: not a trade
            case OrderCancelConfirmed():
                self._exit_gone(event)
            case OrderAcknowledged():
                rec = self.records[event.intent_id]
                rec.perm_id = event.perm_id
                rec.broker_order_id = event.broker_order_id
                if rec.acked_at is None:
                    rec.acked_at = event.ts_event
            case FillRecorded():
                self._apply_fill(event)
            case CommissionRecorded():
                if event.exec_id in self.commissioned:
                    return
                self.commissioned.add(event.exec_id)
                self.realized_today -= event.commission
                self.commissions_today += event.commission
            case TradingStateChanged():
                if (
                    event.previous is TradingState.HALTED
                    and event.current is not TradingState.HALTED
                ):
                    self.losses_at_rearm = self.consecutive_losses
                    self.realized_at_rearm = self.realized_today
                self.trading_state = event.current
                self.trading_state_actor = event.actor
                if event.current is not TradingState.HALTED:
                    self.kill_confirmed = None
            case KillFlagRaised():
                self.kill_flags[event.flag] = event
            case KillFlagCleared():
                self.kill_flags.pop(event.flag, None)
            case KillConfirmation():
                self.kill_confirmed = event.confirmed
            case AlertRaised():
                self.alerts.append(event)
            case DriftDetected():
                self.drifts[event.drift_id] = event
            case DriftResolved():
                drift = self.drifts.pop(event.drift_id, None)
                if drift is not None and event.resolution is DriftResolution.ACKNOWLEDGED:
                    self.accepted_drifts.add(drift_fingerprint(drift))
            case PromotionRequested():
                self.promotion_requests[event.strategy] = event
            case PromotionApproved():
                self.strategy_stages[event.strategy] = event.to_stage
                self.promotion_requests.pop(event.strategy, None)
            case PositionCorrected():
                pos = self.positions.setdefault(event.symbol, PositionState())
                pos.quantity = event.quantity
                pos.avg_price = event.avg_price
            case _:
                pass

    def _exit_gone(self, event: OrderCancelConfirmed) -> None:
        """A CANCELLED bead naming a bracket exit's orderRef: that leg no longer works."""
        parsed = parse_order_ref(event.order_ref)
        rec = self.records.get(event.intent_id)
        if parsed is None or rec is None or parsed[0] != event.intent_id:
            return
        if parsed[1] in rec.exit_legs:
            rec.exits_gone.add(parsed[1])

    def _pending_ended(
        self, event: AuditedEvent, intent_id: str, outcome: str, reason: str
    ) -> None:
        rec = self.records.get(intent_id)
        if rec is None:
            return
        o = rec.intent.order
        self.pending_history.append(
            PendingOutcome(
                intent_id, o.instrument.symbol, o.side, o.quantity, outcome, reason, event.ts_event
            )
        )

    def _recount(self, rec: IntentRecord) -> None:
        """Keep working_qty in step with the record's unfilled, still-open entry quantity."""
        iid = rec.intent.intent_id
        new = (
            max(ZERO, rec.requested - rec.entry_filled) if rec.state in ENTRY_OPEN_STATES else ZERO
        )
        old = self.open_entry_qty.pop(iid, ZERO)
        if new:
            self.open_entry_qty[iid] = new
        if new != old:
            key = (rec.intent.order.instrument.symbol, rec.intent.order.side)
            self.working_qty[key] = self.working_qty.get(key, ZERO) + new - old

    def working_orders(self, symbol: str, side: Side, excluding: str = "") -> int:
        """How many orders work at the broker in `symbol` on `side` (open entries and live
        bracket exits), not counting intent `excluding`; working_qty is their entry quantity."""
        count = self._orders_at_broker.get((symbol, side), 0)
        mine = self._counted.get(excluding)
        if mine is not None and mine[0] == (symbol, side):
            count -= mine[1]
        return count

    def _count_at_broker(self, rec: IntentRecord) -> None:
        """Move `rec`'s share of the per-(symbol, side) order count to its current state."""
        iid = rec.intent.intent_id
        old = self._counted.pop(iid, None)
        if old is not None:
            self._orders_at_broker[old[0]] -= old[1]
        o = rec.intent.order
        if rec.state in ENTRY_OPEN_STATES:
            new = ((o.instrument.symbol, o.side), 1)
        elif rec.state in EXITS_WORKING_STATES:
            exits = (o.stop_loss is not None) + (o.take_profit is not None)
            new = ((o.instrument.symbol, o.side.opposite), exits)
        else:
            return
        if new[1]:
            self._counted[iid] = new
            self._orders_at_broker[new[0]] = self._orders_at_broker.get(new[0], 0) + new[1]

    def quantity_held(self, symbol: str) -> Decimal:
        """The signed position in `symbol` (0 when none is held)."""
        position = self.positions.get(symbol)
        return position.quantity if position is not None else Decimal(0)

    def _index(self, rec: IntentRecord) -> None:
        iid = rec.intent.intent_id
        self._recount(rec)
        self._count_at_broker(rec)
        if rec.state in FINAL_STATES:
            self.live.pop(iid, None)
        else:
            self.live[iid] = rec

    def roll_session(self, at: datetime) -> None:
        """Start a new trading session's counters when `at` falls in a later session.

        The engine also calls this from its clock, so a lockout ends on time even when no event
        arrives; replay reaches the same state because the next event rolls the same way.
        """
        day = session_day(at)
        if self.trading_day != day:
            self.trading_day = day
            self.trades_today = 0
            self.realized_today = ZERO
            self.commissions_today = ZERO
            self.consecutive_losses = 0
            self.losses_at_rearm = 0
            self.realized_at_rearm = None

    def _apply_fill(self, fill: FillRecorded) -> None:
        if fill.exec_id in self.seen_exec_ids:
            return
        self.seen_exec_ids.add(fill.exec_id)
        rec = self.records[fill.intent_id]
        rec.filled[fill.leg] = rec.filled.get(fill.leg, ZERO) + fill.quantity
        rec.fill_notional[fill.leg] = (
            rec.fill_notional.get(fill.leg, ZERO) + fill.quantity * fill.price
        )
        if rec.first_fill_at is None:
            rec.first_fill_at = fill.ts_event
        if fill.leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN) and rec.requested:
            self.entry_fill_ratio[fill.symbol] = rec.entry_filled / rec.requested
        self._recount(rec)
        mult = rec.intent.order.instrument.multiplier or Decimal(1)
        pos = self.positions.setdefault(fill.symbol, PositionState(multiplier=mult))
        signed = fill.side.sign * fill.quantity
        realized = _apply_to_position(pos, signed, fill.price)
        self.exec_pnl[fill.exec_id] = realized
        self.realized_today += realized
        if pos.quantity == 0 and realized != 0:
            if pos.round_trip_pnl < 0:
                self.consecutive_losses += 1
            else:
                self.consecutive_losses = 0
            pos.round_trip_pnl = ZERO

    def record_for_ref(self, order_ref: str) -> IntentRecord | None:
        intent_id = self.by_ref.get(order_ref)
        return self.records.get(intent_id) if intent_id else None

    def working(self) -> list[IntentRecord]:
        return [r for r in self.live.values() if r.state.is_working]


def _apply_to_position(pos: PositionState, signed_qty: Decimal, price: Decimal) -> Decimal:
    """Update quantity/average price; return the P&L realized by this fill."""
    realized = ZERO
    q = pos.quantity
    if q == 0 or (q > 0) == (signed_qty > 0):
        new_q = q + signed_qty
        pos.avg_price = (pos.avg_price * abs(q) + price * abs(signed_qty)) / abs(new_q)
        pos.quantity = new_q
        return realized
    closing = min(abs(signed_qty), abs(q))
    direction = Decimal(1) if q > 0 else Decimal(-1)
    realized = (price - pos.avg_price) * closing * direction * pos.multiplier
    pos.realized += realized
    pos.round_trip_pnl += realized
    new_q = q + signed_qty
    if new_q == 0:
        pos.avg_price = ZERO
    elif (new_q > 0) != (q > 0):
        pos.avg_price = price  # flipped through zero: the remainder opened at this price
    pos.quantity = new_q
    return realized


def session_day(at: datetime) -> date:
    """The trading session `at` belongs to (sessions roll at 18:00 New York time)."""
    return (at.astimezone(EXCHANGE_TZ) + SESSION_ROLL).date()


def drift_fingerprint(drift: DriftDetected) -> tuple[str, str, str, str]:
    """Type, subject and both sides' values: equal fingerprints are the same drift."""
    return (
        drift.drift_type.value,
        drift.subject,
        repr(sorted(drift.engine_state.items())),
        repr(sorted(drift.broker_state.items())),
    )
