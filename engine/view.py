"""Read-only snapshots of engine state for the console and the CLI, and their builder."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from contracts.broker import AccountSnapshot
from contracts.config import Config
from contracts.enums import LifecycleState, Mode, OrderLeg, OrderType, Side, TradingState
from contracts.events import AlertRaised, CheckOutcome, DriftDetected
from contracts.intent import Intent
from contracts.market import FuturesCalendar
from engine.approvals import ApprovalDesk
from engine.audit import AuditStore, BeadRow
from engine.book import Book
from engine.clock import Clock
from engine.fill_journal import FillJournalRow, SlippageDrift
from engine.fills_view import FillsFeed
from engine.gates import GateResult
from engine.instruments import InstrumentMaster
from engine.pretrade import PreTradeRisk
from engine.previews import OrderPreview, PreviewDesk
from engine.promotion import GoLive
from engine.scale import TierStatus
from engine.session import LATENCY_STAGES, BrokerSession
from engine.style_desk import StyleDesk
from engine.trading_hours import VenueSession

AUDIT_TAIL = 30
"""Beads in a snapshot's audit tail (the console's Audit panel)."""


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
    preview: OrderPreview | None = None
    """The broker's whatIf preview of the order approve sends (None: the broker has none)."""
    futures: FuturesCalendar | None = None
    """For a future: its local symbol, expiry, roll date and $/tick."""

    def seconds_left(self, monotonic_now: float) -> float:
        return max(0.0, self.expires_monotonic - monotonic_now)

    @property
    def risk_ok(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class StyleView:
    """An execution style's progress for the Orders panel."""

    kind: str
    """limit_patience or twap."""
    steps: int
    """Modifies the broker confirmed (reprices, slices)."""
    working_quantity: Decimal
    """What the working order asks for now (twap grows it slice by slice)."""
    limit_price: Decimal | None
    done: bool
    outcome: str
    """Why it stopped (filled, timed out, halted, ...); empty while working."""
    last_step: str
    """The newest history line ("40@100.02", "modify ... refused", ...)."""


@dataclass(frozen=True)
class LegView:
    """A bracket exit (stop or target) of an order, for the Orders panel."""

    leg: OrderLeg
    price: Decimal
    filled: Decimal
    avg_fill_price: Decimal | None
    gone: bool = False
    """The broker no longer works it (cancelled there, heard or found missing)."""


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
    style: StyleView | None = None
    """The execution style working this order (None for immediate orders)."""
    legs: tuple[LegView, ...] = ()
    """The bracket's stop and target, shown under their parent."""
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

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
    down_reason: str = ""
    """Why the broker session is down (the adapter's words), "" while connected."""


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
    intent_to_approve: tuple[float, ...] = ()
    """The trader's time: the intent on screen until the approve."""
    approve_to_submit: tuple[float, ...] = ()
    """The engine's own time: the approve until the order is handed to the broker."""


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
    fills: tuple[FillJournalRow, ...] = ()
    """The fill journal for the fills view, oldest first (the newest 200; refreshed <= 1/s)."""
    slippage: tuple[SlippageDrift, ...] = ()
    """Observed entry slippage against the configured model, per symbol and style."""
    order_entry_refused: str | None = None
    """Why the broker refuses every new order this session (read-only API); None: it accepts."""
    cancel_waits_s: tuple[float, ...] = ()
    """Seconds each answered cancel spent in PENDING_CANCEL, newest last."""
    market_sessions: tuple[VenueSession, ...] = ()
    """Each traded venue's session now (OPEN / CLOSED / MAINTENANCE and why), for the status
    bar; empty when the calendar does not apply (`[hours] calendar`)."""
    futures: tuple[FuturesCalendar, ...] = ()
    """Every future resolved this session: expiry, roll date, and whether it is the front."""


class SnapshotBuilder:
    """Takes the read-only EngineSnapshot the console renders, from the components' state."""

    def __init__(
        self,
        store: AuditStore,
        book: Book,
        session: BrokerSession,
        approvals: ApprovalDesk,
        risk: PreTradeRisk,
        golive: GoLive,
        clock: Clock,
        config: Config,
        *,
        styles: StyleDesk | None = None,
        previews: PreviewDesk | None = None,
        instruments: InstrumentMaster | None = None,
    ) -> None:
        self._styles = styles
        self._previews = previews
        self._instruments = instruments
        self._fills = FillsFeed(
            store,
            config.execution.modelled_slippage_ticks,
            config.execution.slippage_bound_ticks,
        )
        self._store = store
        self._book = book
        self._session = session
        self._approvals = approvals
        self._risk = risk
        self._golive = golive
        self._clock = clock
        self._config = config
        self._tail_cache: tuple[int, tuple[BeadView, ...]] = (-1, ())

    def take(self) -> EngineSnapshot:
        now = self._clock.now()
        self._fills.refresh(time.monotonic())  # real time: a rate limit, not a timestamp
        session = self._session
        pending: list[PendingApproval] = []
        orders: list[OrderView] = []
        for rec in self._book.records.values():
            if rec.state is LifecycleState.PROPOSED:
                approval = self._pending(rec.intent.intent_id, now)
                if approval is not None:
                    pending.append(approval)
                continue
            o = rec.intent.order
            orders.append(
                OrderView(
                    intent_id=rec.intent.intent_id,
                    symbol=o.instrument.symbol,
                    side=o.side,
                    order_type=o.order_type,
                    requested=rec.requested,
                    filled=rec.entry_filled,
                    state=rec.state,
                    state_since=rec.state_since,
                    limit_price=o.limit_price,
                    stop_price=o.stop_price,
                    avg_fill_price=rec.avg_price(OrderLeg.ENTRY) or rec.avg_price(OrderLeg.FLATTEN),
                    perm_id=rec.perm_id,
                    unknown=rec.state.is_working and not session.connected,
                    style=self._style(rec.intent.intent_id),
                    legs=tuple(
                        LegView(
                            leg,
                            price,
                            rec.filled.get(leg, Decimal(0)),
                            rec.avg_price(leg),
                            gone=leg in rec.exits_gone,
                        )
                        for leg, price in (
                            (OrderLeg.STOP_LOSS, o.stop_loss),
                            (OrderLeg.TAKE_PROFIT, o.take_profit),
                        )
                        if price is not None
                    ),
                    stop_loss=o.stop_loss,
                    take_profit=o.take_profit,
                )
            )
        last_quote = max((q.ts for q in session.quotes.values()), default=None)
        return EngineSnapshot(
            mode=self._config.mode,
            trading_state=self._book.trading_state,
            kill_confirmed=self._book.kill_confirmed,
            kill_flags=tuple(
                KillFlagView(f.flag, f.reason, f.expires_at) for f in self._book.kill_flags.values()
            ),
            connection=ConnectionView(
                broker=session.broker.name,
                connected=session.connected,
                account_id=session.account_id,
                is_paper=session.is_paper,
                farms=dict(session.farms),
                last_quote_at=last_quote,
                down_reason=session.down_reason,
            ),
            account=session.account,
            pending=tuple(pending),
            orders=tuple(sorted(orders, key=lambda v: v.state_since, reverse=True)),
            positions=self._positions(),
            alerts=tuple(self._book.alerts)[-50:],
            latency=LatencyView(*(tuple(session.latency[k]) for k in LATENCY_STAGES)),
            audit_tail=self._audit_tail(),
            trades_today=self._book.trades_today,
            realized_pnl_today=self._book.realized_today,
            consecutive_losses=self._book.consecutive_losses,
            taken_at=now,
            monotonic_at=self._clock.monotonic(),
            drifts=tuple(self._book.drifts.values()),
            gates=self._golive.gates,
            scale_tier=self._risk.scale_tier(),
            fills=self._fills.rows,
            slippage=self._fills.slippage,
            order_entry_refused=session.order_entry_refused,
            cancel_waits_s=tuple(session.cancel_waits),
            market_sessions=self._market_sessions(),
            futures=tuple(self._instruments.calendars()) if self._instruments else (),
        )

    def _style(self, intent_id: str) -> StyleView | None:
        progress = self._styles.progress.get(intent_id) if self._styles else None
        if progress is None:
            return None
        return StyleView(
            kind=progress.kind,
            steps=progress.steps,
            working_quantity=progress.working_quantity,
            limit_price=progress.limit_price,
            done=progress.done,
            outcome=progress.outcome,
            last_step=progress.history[-1] if progress.history else "",
        )

    def _market_sessions(self) -> tuple[VenueSession, ...]:
        by_venue: dict[str, VenueSession] = {}
        for instrument in self._session.instruments.values():
            venue_session = self._risk.market_session(instrument)
            if venue_session is not None:
                by_venue.setdefault(venue_session.venue, venue_session)
        return tuple(by_venue.values())

    def _pending(self, intent_id: str, now: datetime) -> PendingApproval | None:
        waiting = self._approvals.pending(intent_id)
        if waiting is None:
            return None
        rec = self._book.records[intent_id]
        issued = self._book.issued_tokens.get(rec.token_id or "")
        return PendingApproval(
            intent=rec.intent,
            token=waiting.token,
            token_id=rec.token_id or "",
            issued_at=issued.ts_event if issued else rec.received_at,
            expires_at=issued.expires_at if issued else now,
            expires_monotonic=waiting.expires_monotonic,
            checks=self._risk.evaluate(rec.intent),
            evidence_hash=rec.intent.evidence_hash(),
            preview=self._previews.get(intent_id) if self._previews else None,
            futures=self._calendar(rec.intent),
        )

    def _calendar(self, intent: Intent) -> FuturesCalendar | None:
        if self._instruments is None:
            return None
        facts = self._instruments.facts(intent.order.instrument)
        return self._instruments.calendar(facts) if facts is not None else None

    def _positions(self) -> tuple[PositionView, ...]:
        out = []
        for symbol, pos in sorted(self._book.positions.items()):
            if pos.quantity == 0 and pos.realized == 0:
                continue
            q = self._session.quote(symbol)
            last = q.last or q.mid if q else None
            unreal = (
                (last - pos.avg_price) * pos.quantity * pos.multiplier
                if last is not None and pos.quantity
                else Decimal(0)
            )
            ratio = self._book.entry_fill_ratio.get(symbol)
            out.append(
                PositionView(symbol, pos.quantity, pos.avg_price, last, unreal, pos.realized, ratio)
            )
        return tuple(out)

    def _audit_tail(self) -> tuple[BeadView, ...]:
        """The newest AUDIT_TAIL beads for the console. Only beads appended since the last
        call are read (an approval appends a few, every snapshot shows the tail)."""
        head = self._store.head_seq
        shown_head, shown = self._tail_cache
        if shown_head == head:
            return shown
        if shown_head < 0 or not 0 < head - shown_head < AUDIT_TAIL:
            tail = bead_views(self._store.tail(AUDIT_TAIL))
        else:
            newest_first = self._store.page(head, head - shown_head)
            added = bead_views(reversed([r for r in newest_first if r.seq > shown_head]))
            tail = (shown + added)[-AUDIT_TAIL:]
        self._tail_cache = (head, tail)
        return tail

    def audit_page(self, top_seq: int | None, n: int) -> tuple[int, tuple[BeadView, ...]]:
        """The newest bead's seq, and at most n beads with seq <= top_seq (None: the newest),
        newest first."""
        head = self._store.head_seq
        top = head if top_seq is None else min(top_seq, head)
        return head, bead_views(self._store.page(top, n))


def bead_views(rows: Iterable[BeadRow]) -> tuple[BeadView, ...]:
    return tuple(
        BeadView(r.seq, datetime.fromisoformat(r.ts), r.kind, r.intent_id, _summary(r.payload))
        for r in rows
    )


def _summary(payload: str) -> str:
    """A short human line for a bead in the audit tail."""
    data = json.loads(payload)
    for key in ("message", "reason", "to_state", "current", "detail"):
        if data.get(key):
            return f"{key}={data[key]}"
    return ""
