"""The Engine facade: commands in, events applied (audit first), snapshots out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.broker import (
    AccountSnapshot,
    AccountUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    BrokerNotice,
    CancelRejected,
    CommissionReported,
    ConnectivityChanged,
    DataFarmStatus,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PacingViolation,
    PositionUpdated,
    Quote,
    QuoteUpdated,
    order_ref_for,
    parse_order_ref,
)
from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    DenialReason,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    Mode,
    OrderLeg,
    OrderType,
    Side,
    TokenRejection,
    TradingState,
    Trigger,
)
from contracts.events import (
    AlertRaised,
    AuditedEvent,
    AutoApprovePolicySet,
    CancelRequested,
    CommissionRecorded,
    DriftDetected,
    DriftResolved,
    EngineStarted,
    FillRecorded,
    IntentReceived,
    KillConfirmation,
    KillFlagCleared,
    KillFlagRaised,
    OrderAcknowledged,
    OrderCancelConfirmed,
    OrderRejectedByBroker,
    OrderStalled,
    OrderSubmitting,
    PositionBead,
    PositionCorrected,
    PromotionApproved,
    PromotionRefused,
    PromotionRequested,
    ReconciliationRun,
    RiskChecked,
    RollbackCompleted,
    RollbackStarted,
    SubmitFailed,
    TokenExpired,
    TokenIssued,
    TokenRejected,
    TokenUsed,
    TraderRejected,
    TradingStateChanged,
    TransitionRefused,
    new_event_id,
)
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from engine import crashpoints
from engine.audit import AuditStore, AuditUnavailable
from engine.book import Book, OrderRecord
from engine.bus import EventBus, StateChanged
from engine.clock import Clock, SystemClock
from engine.fsm import InvalidTransition, next_state
from engine.gates import GateResult
from engine.intake import IntakeServer, StrategyPlugin
from engine.ports import BrokerPort, BrokerUnavailable
from engine.promotion import (
    EvidenceBundle,
    PromotionContext,
    Stage,
    missing_evidence,
    refusal_reasons,
)
from engine.reconcile import Difference, compare
from engine.results import CommandResult, ProposalResult
from engine.risk import RiskContext, pre_trade_checks, reduces_position, reference_price
from engine.rollback import NavTracker, rollback_reason, verify_rollback
from engine.scale import TierStatus, position_cap, tier_for
from engine.throttle import OutboundThrottle
from engine.tokens import TokenBook
from engine.view import (
    BeadView,
    ConnectionView,
    EngineSnapshot,
    KillFlagView,
    LatencyView,
    OrderView,
    PendingApproval,
    PositionView,
)

log = logging.getLogger("deskgate.engine")

STATE_CONFLICT_FLAG = "STATE_CONFLICT"
TIMER_PERIOD_S = 0.5
FLUSH_PERIOD_S = 0.1
LATENCY_SAMPLES = 2000


class Engine:
    """Owns lifecycle, approvals, risk, kill switch and audit; one asyncio loop, never blocks.

    Commands: propose, approve, reject, kill, rearm, flatten, reconcile_now, can_approve.
    Observation: `bus.subscribe()` for change notifications, `snapshot()` for the state.
    """

    def __init__(
        self,
        config: Config,
        broker: BrokerPort,
        *,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        store: AuditStore | None = None,
        intake_socket: Path | None = None,
        sources: Sequence[StrategyPlugin] = (),
    ) -> None:
        self.config = config
        self.broker = broker
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()
        directory = data_dir or config.resolved_data_dir()
        self.store = store or AuditStore(Path(directory) / "audit.sqlite")
        self.book = Book()
        self.tokens = TokenBook(config.tokens.expiry_s)
        self.throttle = OutboundThrottle(config.risk.max_orders_per_second, SystemClock())
        self._pending_tokens: dict[str, tuple[str, float]] = {}
        """intent_id -> (token, expires_monotonic) for intents waiting for the trader."""
        self._submitted_mono: dict[str, float] = {}
        self._recent_orders: deque[tuple[str, float]] = deque()
        self._quotes: dict[str, Quote] = {}
        self._quote_waiters: dict[str, asyncio.Event] = {}
        self._subscribed: set[str] = set()
        self._account: AccountSnapshot | None = None
        self._farms: dict[str, bool] = {}
        self._connected = False
        self._account_id = ""
        self._is_paper = config.mode is not Mode.LIVE
        self._latency: dict[str, deque[float]] = {
            k: deque(maxlen=LATENCY_SAMPLES)
            for k in ("intent_to_submit", "submit_to_ack", "ack_to_fill")
        }
        self._pacing_hits: deque[float] = deque()
        self._connection_failures: deque[float] = deque()
        self._tasks: list[asyncio.Task[Any]] = []
        self._kill_task: asyncio.Task[None] | None = None
        self._reconcile_runs: deque[float] = deque()
        self._reconcile_timer: asyncio.TimerHandle | None = None
        self._reconcile_lock = asyncio.Lock()
        self._order_events = 0
        """Order acks, fills, cancels and rejects applied: a reconciliation spanning one retries."""
        self._background: set[asyncio.Task[Any]] = set()
        self._tail_cache: tuple[int, tuple[BeadView, ...]] = (-1, ())
        self._nav = NavTracker()
        self._rollback_task: asyncio.Task[CommandResult] | None = None
        self._gates: tuple[GateResult, ...] | None = None
        self.last_rollback: RollbackCompleted | None = None
        """The most recent rollback's outcome (for the incident report)."""
        self._started = False
        self._replaying = False
        self._intake = IntakeServer(intake_socket, self.propose) if intake_socket else None
        self._sources = list(sources)
        broker.set_event_sink(self._on_broker_event)

    # --- events: audit first, then apply, then tell subscribers ----------------------------

    def _emit(self, event: AuditedEvent, *, durable: bool = False) -> None:
        if durable:
            self.store.append_durable(event)
        else:
            self.store.append(event)
        self.book.apply(event)
        self.bus.publish(event)

    def _now_pair(self) -> dict[str, Any]:
        now = self.clock.now()
        return {"ts_event": now, "ts_init": now}

    def _alert(
        self, level: AlertLevel, code: str, message: str, intent_id: str | None = None
    ) -> None:
        self._emit(
            AlertRaised(
                **self._now_pair(), level=level, code=code, message=message, intent_id=intent_id
            )
        )

    def _transition(self, rec: OrderRecord, trigger: Trigger) -> bool:
        """Move a record through the lifecycle table; refusals are recorded, not raised."""
        try:
            to = next_state(rec.state, trigger)
        except InvalidTransition as exc:
            self._emit(
                TransitionRefused(
                    **self._now_pair(),
                    intent_id=rec.intent.intent_id,
                    state=rec.state,
                    trigger=trigger,
                    detail=str(exc),
                )
            )
            return False
        self._emit(
            PositionBead(
                **self._now_pair(),
                intent_id=rec.intent.intent_id,
                from_state=rec.state,
                to_state=to,
                trigger=trigger,
                requested=rec.requested,
                filled=rec.entry_filled,
            )
        )
        return True

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run a coroutine in the background, keeping a reference until it finishes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def force_transition(self, intent_id: str, trigger: Trigger) -> bool:
        """Apply a trigger by hand (tests, chaos suite): invalid ones are refused and recorded."""
        rec = self.book.records.get(intent_id)
        if rec is None:
            raise KeyError(intent_id)
        return self._transition(rec, trigger)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild from the audit store, void old tokens, connect, recover, start timers."""
        if self._started:
            return
        self._started = True
        self._replaying = True
        for event in self.store.events():
            self.book.apply(event)
        self._replaying = False
        voided = 0
        for token_id, issued in list(self.book.issued_tokens.items()):
            rec = self.book.records.get(issued.intent_id)
            if rec and rec.token_id == token_id and rec.state is LifecycleState.PROPOSED:
                self._emit(
                    TokenExpired(
                        **self._now_pair(),
                        intent_id=issued.intent_id,
                        token_id=token_id,
                        reason=TokenRejection.VOID_AFTER_RESTART,
                    )
                )
                voided += 1
        self.book.issued_tokens.clear()
        self._resolve_write_ahead()
        self._emit(
            EngineStarted(
                **self._now_pair(),
                mode=self.config.mode.value,
                broker=self.broker.name,
                voided_tokens=voided,
            ),
            durable=True,
        )
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._timers(), name="engine-timers"))
        self._tasks.append(loop.create_task(self._flusher(), name="engine-flush"))
        try:
            await self.broker.connect()
        except BrokerUnavailable as exc:
            self._alert(AlertLevel.CRITICAL, "BROKER_UNAVAILABLE", f"cannot connect: {exc}")
            self._note_connection_failure()
        else:
            self._connected = self.broker.connected
            await self._recover_after_connect()
        for rec in list(self.book.records.values()):
            if rec.state is LifecycleState.PROPOSED:
                await self.watch_quote(rec.intent.order.instrument)
                await self._offer_for_approval(rec, stage="proposal")
        if self.book.trading_state is TradingState.HALTED and not self.book.kill_confirmed:
            self._start_kill_confirmation(resend=True)
        if self._connected:
            await self.reconcile("start-up")
        self._tasks.append(loop.create_task(self._periodic_reconcile(), name="reconcile"))
        if self._intake is not None:
            try:
                await self._intake.start()
            except OSError as exc:
                self._alert(AlertLevel.WARNING, "INTAKE_SOCKET", f"intake socket not open: {exc}")
        for source in self._sources:
            self._tasks.append(loop.create_task(self._run_source(source), name="intent-source"))
        self.bus.publish(StateChanged("started"))

    async def _run_source(self, source: StrategyPlugin) -> None:
        try:
            await source(self.propose, self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("intent source failed")
            self._alert(AlertLevel.WARNING, "SOURCE_FAILED", f"intent source stopped: {exc}")

    async def stop(self) -> None:
        if self._rollback_task is not None and not self._rollback_task.done():
            self._rollback_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._rollback_task
        if self._intake is not None:
            await self._intake.stop()
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._kill_task:
            self._kill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._kill_task
        with contextlib.suppress(Exception):
            await self.broker.disconnect()
        try:
            self.store.flush()
        except AuditUnavailable as exc:
            log.error("audit flush at stop failed: %s", exc)
        self._started = False

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_PERIOD_S)
            try:
                self.store.flush()
            except AuditUnavailable as exc:
                log.error("audit flush failed: %s", exc)

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(TIMER_PERIOD_S)
            try:
                self.tick()
            except AuditUnavailable as exc:
                log.error("timer tick could not write: %s", exc)

    def tick(self) -> None:
        """Expire tokens, stall silent orders, clear lapsed kill flags (called twice a second)."""
        mono = self.clock.monotonic()
        now = self.clock.now()
        for token_id, intent_id in self.tokens.expire_due(mono):
            rec = self.book.records.get(intent_id)
            if rec is not None:
                self._expire(rec, token_id)
        stall = self.config.lifecycle.stall_timeout_s
        for intent_id, since in list(self._submitted_mono.items()):
            rec = self.book.records.get(intent_id)
            if rec is None or rec.acked_at is not None or rec.state is not LifecycleState.SUBMITTED:
                self._submitted_mono.pop(intent_id, None)
                continue
            if mono - since >= stall:
                self._submitted_mono.pop(intent_id, None)
                self._emit(
                    OrderStalled(**self._now_pair(), intent_id=intent_id, waited_s=mono - since)
                )
                self._transition(rec, Trigger.ACK_TIMEOUT)
                self._alert(
                    AlertLevel.CRITICAL,
                    "STALLED",
                    f"{intent_id}: no broker ack after {mono - since:.0f}s",
                    intent_id,
                )
        for flag, raised in list(self.book.kill_flags.items()):
            if raised.expires_at is not None and now >= raised.expires_at:
                self._emit(KillFlagCleared(**self._now_pair(), flag=flag, reason="expired"))

    def _expire(self, rec: OrderRecord, token_id: str) -> None:
        """The intent's token lapsed: record it, and the intent expires unapproved."""
        iid = rec.intent.intent_id
        self._pending_tokens.pop(iid, None)
        self._emit(TokenExpired(**self._now_pair(), intent_id=iid, token_id=token_id))
        if rec.state is LifecycleState.PROPOSED:
            self._transition(rec, Trigger.TOKEN_EXPIRED)

    # --- intake ------------------------------------------------------------------------------

    async def propose(self, intent: Intent, source: str = "api") -> ProposalResult:
        """Record an intent durably, run the checks, and offer it for approval."""
        iid = intent.intent_id
        if iid in self.book.records:
            return ProposalResult(False, iid, f"intent {iid} already exists; ids are single use")
        try:
            self._emit(
                IntentReceived(**self._now_pair(), intent=intent, source=source), durable=True
            )
        except AuditUnavailable as exc:
            return ProposalResult(False, iid, f"not recorded, audit store unavailable: {exc}")
        crashpoints.hit("intent_recorded")
        rec = self.book.records[iid]
        self._emit(
            PositionBead(
                **self._now_pair(),
                intent_id=iid,
                from_state=None,
                to_state=LifecycleState.PROPOSED,
                trigger=None,
                requested=rec.requested,
                filled=Decimal(0),
            )
        )
        await self.watch_quote(intent.order.instrument)
        return await self._offer_for_approval(rec, stage="proposal")

    async def _offer_for_approval(self, rec: OrderRecord, stage: str) -> ProposalResult:
        iid = rec.intent.intent_id
        checks = self._run_checks(rec.intent, stage)
        if checks.denials:
            self._deny(rec, checks)
            reasons = "; ".join(f"{d.reason}: {d.detail}" for d in checks.denials)
            return ProposalResult(False, iid, f"denied: {reasons}", checks.denials)
        token, token_id, expires_mono = self.tokens.issue(
            iid, rec.intent.evidence_hash(), rec.intent.order.digest(), self.clock.monotonic()
        )
        expires_at = self.clock.now() + timedelta(seconds=self.config.tokens.expiry_s)
        self._pending_tokens[iid] = (token, expires_mono)
        self._emit(
            TokenIssued(
                **self._now_pair(),
                intent_id=iid,
                token_id=token_id,
                evidence_hash=rec.intent.evidence_hash(),
                params_hash=rec.intent.order.digest(),
                expires_at=expires_at,
            )
        )
        return ProposalResult(True, iid, "waiting for approval")

    def _run_checks(self, intent: Intent, stage: str) -> RiskChecked:
        checks = pre_trade_checks(
            intent, self._risk_context(intent), self.config.risk, self.config.stale
        )
        event = RiskChecked(
            **self._now_pair(),
            intent_id=intent.intent_id,
            stage=stage,
            checks=checks,
        )
        self._emit(event)
        return event

    def _deny(self, rec: OrderRecord, checks: RiskChecked) -> None:
        iid = rec.intent.intent_id
        self._pending_tokens.pop(iid, None)
        self.tokens.void_for_intent(iid)
        self._transition(rec, Trigger.DENY)
        reasons = ", ".join(str(d.reason) for d in checks.denials)
        self._alert(AlertLevel.WARNING, "RISK_DENIED", f"{iid} denied: {reasons}", iid)
        if any(d.reason is DenialReason.STATE_CONFLICT for d in checks.denials):
            minutes = self.config.stale.temporary_kill_min
            self._emit(
                KillFlagRaised(
                    **self._now_pair(),
                    flag=STATE_CONFLICT_FLAG,
                    reason=f"stale state on {iid}",
                    expires_at=self.clock.now() + timedelta(minutes=minutes),
                )
            )

    def _risk_context(self, intent: Intent) -> RiskContext:
        symbol = intent.order.instrument.symbol
        pos = self.book.positions.get(symbol)
        position = pos.quantity if pos else Decimal(0)
        side = intent.order.side
        working = self.book.working_qty.get((symbol, side), Decimal(0))
        working -= self.book.open_entry_qty.get(intent.intent_id, Decimal(0))
        mono = self.clock.monotonic()
        digest = intent.order.digest()
        window = self.config.risk.duplicate_window_s
        while self._recent_orders and mono - self._recent_orders[0][1] > window:
            self._recent_orders.popleft()
        recent = next((mono - t for d, t in reversed(self._recent_orders) if d == digest), None)
        return RiskContext(
            now=self.clock.now(),
            quote=self._quotes.get(symbol),
            position=position,
            working_same_side=working,
            trades_today=self.book.trades_today,
            realized_pnl_today=self.book.realized_today,
            consecutive_losses=self.book.consecutive_losses,
            trading_state=self.book.trading_state,
            kill_flags=tuple(self.book.kill_flags),
            connected=self._connected,
            recent_identical_s=recent,
            strategy_live=(
                self.strategy_stage(intent.strategy) is Stage.LIVE
                if self.config.mode is Mode.LIVE
                else None
            ),
            max_position_override=self._tier_cap(intent),
        )

    def _tier_cap(self, intent: Intent) -> Decimal | None:
        """The scale-up tier's position cap in units for this intent (None: no tier in force)."""
        tier = self.scale_tier()
        if tier is None:
            return None
        o = intent.order
        price = reference_price(intent, self._quotes.get(o.instrument.symbol))
        return position_cap(tier, price, o.instrument.multiplier)

    def scale_tier(self) -> TierStatus | None:
        """The capital tier in force today (from `scale.go_live_date`); None when not live."""
        try:
            return tier_for(self.config.scale, self.clock.now().date())
        except ValueError:
            return None

    async def watch_quote(self, instrument: Instrument, wait_s: float = 2.0) -> Quote | None:
        """Subscribe to an instrument's quotes (once) and wait briefly for the first one."""
        symbol = instrument.symbol
        if symbol not in self._subscribed and self._connected:
            self._subscribed.add(symbol)
            try:
                await self.broker.subscribe_quotes(instrument)
            except BrokerUnavailable as exc:
                self._subscribed.discard(symbol)
                self._alert(AlertLevel.WARNING, "NO_MARKET_DATA", f"{symbol}: {exc}")
                return None
        if symbol not in self._quotes and self._connected:
            waiter = self._quote_waiters.setdefault(symbol, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), wait_s)
        return self._quotes.get(symbol)

    # --- approval and the order path -----------------------------------------------------------

    def can_approve(self, intent_id: str) -> CommandResult:
        """Whether approve would be accepted now (for greying out the key), and why not."""
        rec = self.book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state is not LifecycleState.PROPOSED:
            return CommandResult(False, f"{intent_id} is {rec.state}", "NOT_PENDING")
        pending = self._pending_tokens.get(intent_id)
        if pending is None or self.clock.monotonic() >= pending[1]:
            return CommandResult(False, "approval token expired", TokenRejection.EXPIRED)
        checks = pre_trade_checks(
            rec.intent, self._risk_context(rec.intent), self.config.risk, self.config.stale
        )
        denied = [c for c in checks if not c.passed]
        if denied:
            d = denied[0]
            return CommandResult(False, f"{d.reason}: {d.detail}", str(d.reason))
        return CommandResult(True, "ready to approve")

    async def approve(self, intent_id: str, token: str) -> CommandResult:
        """Redeem the token (atomically), re-check risk, write ahead, then send."""
        rec = self.book.records.get(intent_id)
        if rec is None:
            self._emit(
                TokenRejected(
                    **self._now_pair(),
                    intent_id=intent_id,
                    token_id=None,
                    reason=TokenRejection.WRONG_INTENT,
                )
            )
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        redemption = self.tokens.redeem(
            token,
            intent_id,
            rec.intent.evidence_hash(),
            rec.intent.order.digest(),
            self.clock.monotonic(),
        )
        if not redemption.ok:
            assert redemption.rejection is not None
            self._emit(
                TokenRejected(
                    **self._now_pair(),
                    intent_id=intent_id,
                    token_id=redemption.token_id,
                    reason=redemption.rejection,
                )
            )
            if (
                redemption.rejection is TokenRejection.EXPIRED
                and redemption.token_id is not None
                and rec.state is LifecycleState.PROPOSED
                and rec.token_id == redemption.token_id
            ):
                self._expire(rec, redemption.token_id)
            return CommandResult(
                False, f"token refused: {redemption.rejection}", str(redemption.rejection)
            )
        assert redemption.token_id is not None
        self._pending_tokens.pop(intent_id, None)
        self._emit(TokenUsed(**self._now_pair(), intent_id=intent_id, token_id=redemption.token_id))
        if not self._transition(rec, Trigger.APPROVE):
            return CommandResult(False, f"{intent_id} is {rec.state}: not approvable", "STATE")
        checks = self._run_checks(rec.intent, "submit")
        if checks.denials:
            self._deny(rec, checks)
            d = checks.denials[0]
            return CommandResult(False, f"denied at submit: {d.reason}: {d.detail}", str(d.reason))
        return await self._send(rec, self._request_for(rec.intent), token_id=redemption.token_id)

    def _request_for(self, intent: Intent, leg: OrderLeg = OrderLeg.ENTRY) -> OrderRequest:
        o = intent.order
        return OrderRequest(
            order_ref=order_ref_for(intent.intent_id, leg),
            instrument=o.instrument,
            side=o.side,
            quantity=o.quantity,
            order_type=o.order_type,
            limit_price=o.limit_price,
            stop_price=o.stop_price,
            tif=o.tif,
            stop_loss=o.stop_loss,
            take_profit=o.take_profit,
        )

    async def _send(
        self,
        rec: OrderRecord,
        request: OrderRequest,
        *,
        token_id: str | None,
        exempt: str | None = None,
    ) -> CommandResult:
        """The only place an order leaves. Requires a used token or an audited exemption."""
        iid = rec.intent.intent_id
        if token_id is None and exempt is None:
            raise PermissionError("an order without a token needs an audited exemption")
        if not self._connected:
            self._transition(rec, Trigger.SUBMIT_FAILED)
            self._alert(AlertLevel.WARNING, "NOT_SENT", f"{iid}: broker disconnected", iid)
            return CommandResult(False, "broker disconnected: order not sent", "DISCONNECTED")
        try:
            self._emit(
                OrderSubmitting(
                    **self._now_pair(),
                    intent_id=iid,
                    request=request,
                    token_id=token_id,
                    exempt=exempt,
                ),
                durable=True,
            )
        except AuditUnavailable as exc:
            with contextlib.suppress(AuditUnavailable):
                self._transition(rec, Trigger.SUBMIT_FAILED)
                self._alert(AlertLevel.CRITICAL, "AUDIT_UNAVAILABLE", f"{iid} not sent: {exc}", iid)
            return CommandResult(
                False, f"order not sent: audit store unavailable ({exc})", "AUDIT_UNAVAILABLE"
            )
        self._transition(rec, Trigger.SUBMIT)
        self._submitted_mono[iid] = self.clock.monotonic()
        self._recent_orders.append((rec.intent.order.digest(), self.clock.monotonic()))
        self._sample("intent_to_submit", rec.received_at, rec.submitted_at)
        await self.throttle.acquire()
        if self.book.trading_state is TradingState.HALTED and exempt is None:
            # The kill switch was thrown while this order waited for a send slot: it stays home.
            self._emit(
                SubmitFailed(
                    **self._now_pair(),
                    intent_id=iid,
                    order_ref=request.order_ref,
                    reason="kill switch thrown while queued: not sent",
                )
            )
            self._transition(rec, Trigger.SUBMIT_FAILED)
            self._submitted_mono.pop(iid, None)
            self._alert(AlertLevel.WARNING, "NOT_SENT", f"{iid}: halted while queued", iid)
            return CommandResult(False, "HALTED while queued: order not sent", "HALTED")
        try:
            await self.broker.submit(request)
        except BrokerUnavailable as exc:
            self._emit(
                SubmitFailed(
                    **self._now_pair(), intent_id=iid, order_ref=request.order_ref, reason=str(exc)
                )
            )
            self._transition(rec, Trigger.SUBMIT_FAILED)
            self._submitted_mono.pop(iid, None)
            self._alert(AlertLevel.CRITICAL, "SUBMIT_FAILED", f"{iid}: {exc}", iid)
            return CommandResult(False, f"broker refused to send: {exc}", "SUBMIT_FAILED")
        crashpoints.hit("order_sent")
        return CommandResult(True, f"{iid} sent ({request.order_ref})")

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult:
        rec = self.book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state is not LifecycleState.PROPOSED:
            return CommandResult(False, f"{intent_id} is {rec.state}: nothing to reject", "STATE")
        self._pending_tokens.pop(intent_id, None)
        self.tokens.void_for_intent(intent_id)
        self._emit(TraderRejected(**self._now_pair(), intent_id=intent_id, reason=reason))
        self._transition(rec, Trigger.TRADER_REJECT)
        return CommandResult(True, f"{intent_id} rejected")

    # --- kill switch, flatten --------------------------------------------------------------------

    def _set_trading_state(self, state: TradingState, reason: str, actor: str) -> None:
        if self.book.trading_state is state:
            return
        self._emit(
            TradingStateChanged(
                **self._now_pair(),
                previous=self.book.trading_state,
                current=state,
                reason=reason,
                actor=actor,
            ),
            durable=True,
        )

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult:
        """HALT: block new entries, globally cancel, and confirm with the broker."""
        reason = reason.strip() or "kill switch"
        try:
            self._set_trading_state(TradingState.HALTED, reason, actor)
        except AuditUnavailable as exc:
            # The halt must happen even if it cannot be written: apply it in memory.
            self.book.trading_state = TradingState.HALTED
            log.error("kill could not be recorded: %s", exc)
        self._alert(AlertLevel.CRITICAL, "KILL", f"HALTED by {actor}: {reason}")
        for iid in list(self._pending_tokens):
            self.tokens.void_for_intent(iid)
        self._pending_tokens.clear()
        self._start_kill_confirmation(resend=True)
        return CommandResult(True, f"HALTED: {reason}; cancelling all working orders")

    def _start_kill_confirmation(self, *, resend: bool) -> None:
        if self._kill_task and not self._kill_task.done():
            self._kill_task.cancel()
        self._kill_task = asyncio.get_running_loop().create_task(
            self._cancel_and_confirm(resend), name="kill-confirm"
        )

    async def _cancel_and_confirm(self, resend: bool) -> None:
        working = len(self.book.working())
        self._emit(KillConfirmation(**self._now_pair(), confirmed=False, working_orders=working))
        delay = 0.2
        sent = False
        while self.book.trading_state is TradingState.HALTED:
            if not self._connected:
                await asyncio.sleep(0.5)
                continue
            try:
                if resend or not sent:
                    self._emit(
                        CancelRequested(
                            **self._now_pair(), intent_id=None, order_ref=None, reason="kill"
                        )
                    )
                    await self.throttle.acquire(urgent=True)
                    await self.broker.cancel_all()
                    sent, resend = True, False
                open_orders = await self.broker.open_orders()
            except BrokerUnavailable:
                resend = True
                await asyncio.sleep(0.5)
                continue
            live = [
                o
                for o in open_orders
                if o.status.value in ("WORKING", "PENDING_CANCEL", "PENDING_SUBMIT")
            ]
            if not live:
                self._emit(KillConfirmation(**self._now_pair(), confirmed=True, working_orders=0))
                self._alert(AlertLevel.INFO, "KILL_CONFIRMED", "broker reports no working orders")
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            if delay >= 2.0:
                resend = True

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult:
        reason = reason.strip()
        if not reason:
            return CommandResult(False, "re-arm needs a reason", "REASON_REQUIRED")
        if self.book.trading_state is TradingState.ACTIVE:
            return CommandResult(False, "already ACTIVE", "STATE")
        drifts = len(self.book.drifts)
        if drifts and self.book.trading_state is TradingState.REDUCING:
            return CommandResult(
                False, f"{drifts} unresolved drift(s): resolve them to lift REDUCING", "DRIFT"
            )
        if self._kill_task and not self._kill_task.done():
            self._kill_task.cancel()
        # Unresolved drift keeps the engine REDUCING even after a kill is lifted.
        target, actor_of_state = (
            (TradingState.REDUCING, "reconciliation") if drifts else (TradingState.ACTIVE, actor)
        )
        try:
            self._set_trading_state(target, reason, actor_of_state)
        except AuditUnavailable as exc:
            return CommandResult(False, f"re-arm not recorded: {exc}", "AUDIT_UNAVAILABLE")
        if drifts:
            return CommandResult(True, f"re-armed to REDUCING: {drifts} unresolved drift(s)")
        return CommandResult(True, f"ACTIVE again: {reason}")

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult:
        """Cancel working orders, then close every position with risk-reducing market orders."""
        positions = {s: p for s, p in self.book.positions.items() if p.quantity != 0}
        if not positions:
            return CommandResult(False, "no positions to flatten", "FLAT")
        if not self._connected:
            return CommandResult(False, "broker disconnected: cannot flatten", "DISCONNECTED")
        self._emit(
            CancelRequested(**self._now_pair(), intent_id=None, order_ref=None, reason="flatten")
        )
        await self.throttle.acquire(urgent=True)
        with contextlib.suppress(BrokerUnavailable):
            await self.broker.cancel_all()
        sent = 0
        stamp = self.clock.now().strftime("%H%M%S%f")
        for symbol, pos in positions.items():
            instrument = next(
                r.intent.order.instrument
                for r in self.book.records.values()
                if r.intent.order.instrument.symbol == symbol
            )
            intent = Intent(
                intent_id=f"flat-{symbol.replace(' ', '')}-{stamp}"[:48],
                strategy="flatten",
                order=OrderParams(
                    instrument=instrument,
                    side=Side.SELL if pos.quantity > 0 else Side.BUY,
                    quantity=abs(pos.quantity),
                    order_type=OrderType.MARKET,
                ),
                state_hash="flatten",
                state_ts=self.clock.now(),
                evidence=Evidence(
                    setup_quality=0, htf_alignment=False, ltf_alignment=False, notes=reason
                ),
                reduces_risk=True,
            )
            assert reduces_position(intent, pos.quantity)
            self._emit(
                IntentReceived(**self._now_pair(), intent=intent, source=f"flatten:{actor}"),
                durable=True,
            )
            rec = self.book.records[intent.intent_id]
            self._emit(
                PositionBead(
                    **self._now_pair(),
                    intent_id=intent.intent_id,
                    from_state=None,
                    to_state=LifecycleState.PROPOSED,
                    trigger=None,
                    requested=rec.requested,
                    filled=Decimal(0),
                )
            )
            self._transition(rec, Trigger.APPROVE)
            result = await self._send(
                rec, self._request_for(intent, OrderLeg.FLATTEN), token_id=None, exempt="flatten"
            )
            sent += result.ok
        return CommandResult(
            sent == len(positions), f"flatten: {sent} of {len(positions)} orders sent"
        )

    async def reconcile_now(self) -> CommandResult:
        """Compare with the broker now (the trader's `R`)."""
        return await self.reconcile("manual")

    # --- reconciliation ------------------------------------------------------------------------

    async def _periodic_reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile.interval_s)
            if self._connected:
                await self.reconcile("periodic")

    def request_reconcile(self, reason: str, delay_s: float = 1.0) -> None:
        """Reconcile soon (coalesced): after fills, rejects and cancels the broker settles first."""
        if self._reconcile_timer is not None or not self._started:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._reconcile_timer = None
            self._spawn(self.reconcile(reason), "reconcile-soon")

        self._reconcile_timer = loop.call_later(delay_s, fire)

    async def reconcile(self, reason: str) -> CommandResult:
        """Compare positions, fills and order status with the broker; raise drift, fix nothing."""
        if not self._connected:
            return CommandResult(False, "broker disconnected: cannot reconcile", "DISCONNECTED")
        mono = self.clock.monotonic()
        runs = self._reconcile_runs
        while runs and mono - runs[0] >= 60:
            runs.popleft()
        if len(runs) >= self.config.reconcile.max_per_minute:
            self.request_reconcile(reason, delay_s=max(0.1, 60 - (mono - runs[0])))
            return CommandResult(False, "reconciliation rate limit: deferred", "RATE_LIMITED")
        runs.append(mono)
        async with self._reconcile_lock:
            seen = self._order_events
            try:
                positions = await self.broker.positions()
                open_orders = await self.broker.open_orders()
                account = await self.broker.account()
            except BrokerUnavailable as exc:
                return CommandResult(False, f"reconciliation failed: {exc}", "BROKER_UNAVAILABLE")
            if self._order_events != seen:
                # A fill or order update landed while the broker's answers were in flight: its
                # snapshot and the book are from different moments. Compare again shortly.
                self.request_reconcile(reason, delay_s=0.2)
                return CommandResult(False, "order events arrived mid-comparison", "RETRY")
            differences = compare(self.book, positions, open_orders, account)
            raised = self._raise_drifts(differences)
            self._emit(
                ReconciliationRun(
                    **self._now_pair(),
                    reason=reason,
                    drifts=len(differences),
                    positions=len(positions),
                    open_orders=len(open_orders),
                )
            )
        self._update_reducing_for_drift()
        self.bus.publish(StateChanged("reconciled"))
        if raised:
            return CommandResult(True, f"reconciled: {raised} new drift(s)", "DRIFT")
        if self.book.drifts:
            return CommandResult(True, f"reconciled: {len(self.book.drifts)} unresolved drift(s)")
        return CommandResult(True, "reconciled: engine and broker agree")

    def _raise_drifts(self, differences: list[Difference]) -> int:
        open_keys = {(d.drift_type.value, d.subject) for d in self.book.drifts.values()}
        raised = 0
        for diff in differences:
            if diff.fingerprint in self.book.accepted_drifts or diff.key in open_keys:
                continue
            drift = DriftDetected(
                **self._now_pair(),
                drift_id=new_event_id()[:12],
                drift_type=diff.drift_type,
                subject=diff.subject,
                engine_state=diff.engine_state,
                broker_state=diff.broker_state,
                severity=diff.severity,
            )
            self._emit(drift)
            open_keys.add(diff.key)
            raised += 1
            self._alert(
                AlertLevel.CRITICAL
                if diff.severity is DriftSeverity.CRITICAL
                else AlertLevel.WARNING,
                "DRIFT",
                f"{diff.drift_type} {diff.subject}: engine {_kv(diff.engine_state)}"
                f" / broker {_kv(diff.broker_state)}",
            )
        return raised

    def _update_reducing_for_drift(self) -> None:
        state = self.book.trading_state
        if self.book.drifts and state is TradingState.ACTIVE:
            self._set_trading_state(TradingState.REDUCING, "unresolved drift", "reconciliation")
        elif (
            not self.book.drifts
            and state is TradingState.REDUCING
            and self.book.trading_state_actor == "reconciliation"
        ):
            self._set_trading_state(TradingState.ACTIVE, "all drifts resolved", "reconciliation")

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult:
        """The trader's decision on a drift; ENGINE_CORRECTED makes the engine adopt the broker."""
        drift = self.book.drifts.get(drift_id)
        if drift is None:
            return CommandResult(False, f"no unresolved drift {drift_id}", "UNKNOWN_DRIFT")
        note = note.strip()
        if not note:
            return CommandResult(False, "a resolution needs a note", "NOTE_REQUIRED")
        if resolution is DriftResolution.ENGINE_CORRECTED:
            await self._adopt_broker_view(drift)
        self._emit(
            DriftResolved(
                **self._now_pair(), drift_id=drift_id, resolution=resolution, note=note, actor=actor
            )
        )
        self._update_reducing_for_drift()
        if resolution is DriftResolution.BROKER_CORRECTED:
            self.request_reconcile("after broker correction", delay_s=0.5)
        return CommandResult(True, f"drift {drift_id} {resolution}")

    async def _adopt_broker_view(self, drift: DriftDetected) -> None:
        if drift.drift_type is DriftType.POSITION_SIZE:
            with contextlib.suppress(BrokerUnavailable):
                for pos in await self.broker.positions():
                    if pos.instrument.symbol == drift.subject:
                        break
                else:
                    pos = None
                self._emit(
                    PositionCorrected(
                        **self._now_pair(),
                        symbol=drift.subject,
                        quantity=pos.quantity if pos else Decimal(0),
                        avg_price=pos.avg_cost if pos else Decimal(0),
                        drift_id=drift.drift_id,
                    )
                )
        elif drift.drift_type is DriftType.FILL_MISMATCH:
            await self._recover_after_connect()
        elif drift.drift_type is DriftType.ORDER_MISSING_AT_BROKER:
            rec = self.book.record_for_ref(drift.subject)
            if rec is not None and rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                self._emit(
                    OrderCancelConfirmed(
                        **self._now_pair(),
                        intent_id=rec.intent.intent_id,
                        order_ref=drift.subject,
                        filled=rec.entry_filled,
                        reason=f"engine corrected (drift {drift.drift_id})",
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)

    # --- broker events ---------------------------------------------------------------------------

    def _on_broker_event(self, event: BrokerEvent) -> None:
        try:
            self._dispatch(event)
        except AuditUnavailable as exc:
            log.error("broker event %s could not be recorded: %s", event.kind, exc)
        except Exception:  # a malformed broker message must never kill the engine
            log.exception("broker event %s could not be applied", event.kind)

    def _dispatch(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderAccepted | OrderFilled | OrderCancelled | OrderRejected):
            self._order_events += 1
        match event:
            case QuoteUpdated():
                self._quotes[event.quote.symbol] = event.quote
                waiter = self._quote_waiters.pop(event.quote.symbol, None)
                if waiter:
                    waiter.set()
                self.bus.publish(event)
            case OrderAccepted():
                self._on_accepted(event)
            case OrderFilled():
                self._on_fill(event)
                self.request_reconcile("fill")
            case CommissionReported():
                if event.exec_id in self.book.commissioned:
                    return  # re-reported by a resync: booked once
                self._emit(
                    CommissionRecorded(
                        ts_event=event.ts,
                        ts_init=self.clock.now(),
                        exec_id=event.exec_id,
                        commission=event.commission,
                        realized_pnl=event.realized_pnl,
                    )
                )
                self._check_automatic_triggers()
            case OrderCancelled():
                self._on_cancelled(event)
                self.request_reconcile("cancel")
            case OrderRejected():
                self._on_rejected(event)
                self.request_reconcile("reject")
            case CancelRejected() | ModifyRejected():
                self._alert(
                    AlertLevel.WARNING,
                    event.kind.upper(),
                    f"{event.order_ref}: {event.code} {event.reason}",
                )
            case PacingViolation():
                self._pacing_hits.append(self.clock.monotonic())
                self._alert(AlertLevel.WARNING, "PACING", event.message or "pacing violation")
                self._check_automatic_triggers()
            case BrokerConnected():
                self._connected = True
                self._account_id = event.account_id
                self._is_paper = event.is_paper
                self.bus.publish(StateChanged("connected"))
            case BrokerDisconnected():
                self._connected = False
                self._alert(
                    AlertLevel.CRITICAL, "DISCONNECTED", event.reason or "broker disconnected"
                )
                self._note_connection_failure()
            case ConnectivityChanged():
                self._connected = event.connected
                level = AlertLevel.INFO if event.connected else AlertLevel.CRITICAL
                self._alert(
                    level,
                    "CONNECTIVITY",
                    event.message or ("restored" if event.connected else "lost"),
                )
                if not event.connected:
                    self._note_connection_failure()
                else:
                    self._spawn(self._recover_after_connect(), "resync")
            case DataFarmStatus():
                self._farms[event.farm] = event.ok
                self.bus.publish(StateChanged("farm"))
            case AccountUpdated():
                self._account = event.account
                self._account_id = event.account.account_id
                self._nav.update(event.account.net_liquidation)
                self._check_automatic_triggers()
                self.bus.publish(StateChanged("account"))
            case PositionUpdated():
                self.bus.publish(StateChanged("position"))
            case BrokerNotice():
                self.bus.publish(StateChanged("notice"))

    def _record_for(self, order_ref: str) -> tuple[OrderRecord, OrderLeg] | None:
        parsed = parse_order_ref(order_ref)
        if parsed is None:
            self._alert(
                AlertLevel.WARNING,
                "FOREIGN_ORDER",
                f"order {order_ref!r} was not placed by deskgate",
            )
            return None
        intent_id, leg = parsed
        rec = self.book.records.get(intent_id)
        if rec is None:
            self._alert(
                AlertLevel.WARNING,
                "UNKNOWN_ORDER",
                f"broker reports {order_ref} for an unknown intent",
            )
            return None
        return rec, leg

    def _on_accepted(self, event: OrderAccepted) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg not in (OrderLeg.ENTRY, OrderLeg.FLATTEN) or rec.acked_at is not None:
            return
        self._emit(
            OrderAcknowledged(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=rec.intent.intent_id,
                order_ref=event.order_ref,
                perm_id=event.perm_id,
                broker_order_id=event.broker_order_id,
            )
        )
        self._sample("submit_to_ack", rec.submitted_at, rec.acked_at)
        if rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
            self._transition(rec, Trigger.ACK)
        crashpoints.hit("after_ack")

    def _on_fill(self, event: OrderFilled) -> None:
        if event.exec_id in self.book.seen_exec_ids:
            return
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        iid = rec.intent.intent_id
        crashpoints.hit("before_fill_recorded")
        self._emit(
            FillRecorded(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=iid,
                order_ref=event.order_ref,
                leg=leg,
                exec_id=event.exec_id,
                perm_id=event.perm_id,
                symbol=rec.intent.order.instrument.symbol,
                side=event.side,
                quantity=event.quantity,
                price=event.price,
                cum_quantity=event.cum_quantity,
                remaining=event.remaining,
            )
        )
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            if (
                rec.first_fill_at is not None
                and rec.acked_at is not None
                and rec.entry_filled == event.quantity
            ):
                self._sample("ack_to_fill", rec.acked_at, rec.first_fill_at)
            complete = rec.entry_filled >= rec.requested
            self._transition(rec, Trigger.FILL if complete else Trigger.PARTIAL_FILL)
            self.store.flush()
            crashpoints.hit("after_fill" if complete else "after_partial_fill")
            if complete and leg is OrderLeg.FLATTEN:
                self._transition(rec, Trigger.EXIT_FILLED)
            elif complete and rec.has_exits and rec.state is LifecycleState.FILLED:
                self._transition(rec, Trigger.EXITS_WORKING)
        else:
            done = rec.exit_filled >= rec.entry_filled
            self._transition(rec, Trigger.EXIT_FILLED if done else Trigger.PARTIAL_FILL)
        self._check_automatic_triggers()

    def _on_cancelled(self, event: OrderCancelled) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            if rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                self._emit(
                    OrderCancelConfirmed(
                        ts_event=event.ts,
                        ts_init=self.clock.now(),
                        intent_id=rec.intent.intent_id,
                        order_ref=event.order_ref,
                        filled=event.filled,
                        reason=event.reason,
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)
        elif rec.state is LifecycleState.MANAGED and self._all_exits_done(rec):
            self._transition(rec, Trigger.CANCEL_CONFIRMED)

    def _all_exits_done(self, rec: OrderRecord) -> bool:
        return rec.exit_filled < rec.entry_filled

    def _on_rejected(self, event: OrderRejected) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        iid = rec.intent.intent_id
        self._emit(
            OrderRejectedByBroker(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=iid,
                order_ref=event.order_ref,
                code=event.code,
                reason=event.reason,
            )
        )
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            self._transition(rec, Trigger.BROKER_REJECT)
        self._alert(AlertLevel.WARNING, "REJECTED", f"{iid}: {event.code} {event.reason}", iid)

    # --- recovery ------------------------------------------------------------------------------

    async def _recover_after_connect(self) -> None:
        """Match unfinished intents to broker orders by orderRef; never resend anything."""
        try:
            open_orders = await self.broker.open_orders()
            executions = await self.broker.executions()
        except BrokerUnavailable as exc:
            self._alert(AlertLevel.WARNING, "RESYNC_FAILED", str(exc))
            return
        for execution in executions:
            if execution.exec_id in self.book.seen_exec_ids:
                continue
            self._dispatch(
                OrderFilled(
                    ts=execution.time,
                    order_ref=execution.order_ref,
                    perm_id=execution.perm_id,
                    exec_id=execution.exec_id,
                    side=execution.side,
                    quantity=execution.quantity,
                    price=execution.price,
                    cum_quantity=execution.cum_quantity,
                    remaining=Decimal(0),
                )
            )
        at_broker = {o.order_ref: o for o in open_orders}
        self._resolve_write_ahead()
        for rec in list(self.book.records.values()):
            iid = rec.intent.intent_id
            if rec.state is LifecycleState.FILLED and rec.has_exits:
                exits = (
                    order_ref_for(iid, OrderLeg.STOP_LOSS),
                    order_ref_for(iid, OrderLeg.TAKE_PROFIT),
                )
                if any(ref in at_broker for ref in exits):
                    # Crashed between the fill and marking its bracket exits working.
                    self._transition(rec, Trigger.EXITS_WORKING)
            if rec.order_ref is None:
                continue
            broker_order = at_broker.get(rec.order_ref)
            if broker_order is not None:
                if rec.acked_at is None:
                    self._on_accepted(
                        OrderAccepted(
                            ts=self.clock.now(),
                            order_ref=rec.order_ref,
                            broker_order_id=broker_order.broker_order_id,
                            perm_id=broker_order.perm_id,
                        )
                    )
            elif rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                # Not working at the broker and not fully filled: it is gone. Never resend.
                self._alert(
                    AlertLevel.WARNING,
                    "NOT_AT_BROKER",
                    f"{rec.intent.intent_id}: not working at the broker after resync; closed",
                    rec.intent.intent_id,
                )
                self._emit(
                    OrderCancelConfirmed(
                        **self._now_pair(),
                        intent_id=rec.intent.intent_id,
                        order_ref=rec.order_ref,
                        filled=rec.entry_filled,
                        reason="not found at broker on resync",
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)
        if self.book.trading_state is TradingState.HALTED and not self.book.kill_confirmed:
            self._start_kill_confirmation(resend=True)
        if self._started:
            self.request_reconcile("reconnect", delay_s=0.0)
        self.bus.publish(StateChanged("resync"))

    def _resolve_write_ahead(self) -> None:
        """Settle intents a crash left APPROVED, from the audit store alone.

        Runs before the broker connects: the adapter delivers recovered acks and fills during
        `connect()`, and they must find the record SUBMITTED, not APPROVED.
        """
        for rec in list(self.book.live.values()):
            if rec.state is not LifecycleState.APPROVED:
                continue
            if rec.order_ref is None:
                # Approved but the write-ahead never committed: nothing left; close it out.
                self._transition(rec, Trigger.SUBMIT_FAILED)
            else:
                # The write-ahead committed: the order may have left. Broker truth decides.
                self._transition(rec, Trigger.SUBMIT)

    # --- automatic kill triggers ---------------------------------------------------------------

    def _note_connection_failure(self) -> None:
        self._connection_failures.append(self.clock.monotonic())
        self._check_automatic_triggers()

    def _check_automatic_triggers(self) -> None:
        if self.book.trading_state is TradingState.HALTED:
            return
        risk, kill = self.config.risk, self.config.kill
        reason = None
        if self.book.realized_today <= -risk.daily_loss_limit:
            reason = f"daily loss cap: realized {self.book.realized_today:.2f}"
        elif self.book.consecutive_losses >= risk.max_consecutive_losses:
            reason = f"{self.book.consecutive_losses} consecutive losses"
        else:
            mono = self.clock.monotonic()
            for hits in (self._pacing_hits, self._connection_failures):
                while hits and mono - hits[0] > 3600:
                    hits.popleft()
            rollback = rollback_reason(
                self._nav, len(self._pacing_hits), len(self._connection_failures), kill
            )
            if rollback and self._rollback_task is None:
                self._rollback_task = asyncio.get_running_loop().create_task(
                    self.rollback(rollback, actor="auto", automatic=True), name="auto-rollback"
                )
        if reason:
            self._spawn(self.kill(reason, actor="auto"), "auto-kill")

    # --- rollback --------------------------------------------------------------------------------

    async def rollback(
        self,
        reason: str,
        actor: str = "trader",
        *,
        automatic: bool = False,
        timeout_s: float = 60.0,
    ) -> CommandResult:
        """Kill, cancel everything, flatten, then verify flat / no orders / NAV near the start.

        Records RollbackStarted and RollbackCompleted (with the duration and the numbers).
        """
        reason = reason.strip()
        if not reason:
            return CommandResult(False, "a rollback needs a reason", "REASON_REQUIRED")
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout_s
        self._emit(
            RollbackStarted(
                **self._now_pair(),
                reason=reason,
                actor=actor,
                automatic=automatic,
                nav_at_session_start=self._nav.start,
            ),
            durable=True,
        )
        await self.kill(f"rollback: {reason}", actor)
        if self._kill_task is not None:
            await asyncio.wait({self._kill_task}, timeout=max(0.0, deadline - loop.time()))
        if any(p.quantity for p in self.book.positions.values()):
            await self.flatten(f"rollback: {reason}", actor)
        positions: dict[str, Decimal] = {}
        open_orders = -1
        nav_end: Decimal | None = None
        while True:
            try:
                held = await self.broker.positions()
                live = await self.broker.open_orders()
                account = await self.broker.account()
            except BrokerUnavailable:
                held, live, account = [], [], None
            else:
                positions = {p.instrument.symbol: p.quantity for p in held if p.quantity}
                open_orders = sum(
                    o.status.value in ("WORKING", "PENDING_CANCEL", "PENDING_SUBMIT") for o in live
                )
                nav_end = account.net_liquidation if account else None
                if not positions and open_orders == 0:
                    break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        check = verify_rollback(
            positions,
            max(open_orders, 0),
            self._nav.start,
            nav_end,
            Decimal(str(self.config.golive.rollback_nav_tolerance_pct)),
        )
        problems = check.problems if open_orders >= 0 else ("broker unreachable", *check.problems)
        verified = check.verified and open_orders >= 0
        duration = loop.time() - started
        self.last_rollback = RollbackCompleted(
            **self._now_pair(),
            reason=reason,
            actor=actor,
            verified=verified,
            duration_s=duration,
            flat=check.flat,
            open_orders=max(open_orders, 0),
            positions=positions,
            nav_start=self._nav.start,
            nav_end=nav_end,
            nav_change_pct=check.nav_change_pct,
            problems=problems,
        )
        self._emit(self.last_rollback, durable=True)
        level = AlertLevel.INFO if verified else AlertLevel.CRITICAL
        verdict = "verified" if verified else "NOT verified: " + "; ".join(problems)
        self._alert(level, "ROLLBACK", f"rollback {verdict} in {duration:.1f}s")
        return CommandResult(verified, f"rollback {verdict} in {duration:.1f}s", "" if verified
                             else "UNVERIFIED")  # fmt: skip

    @property
    def session_nav(self) -> NavTracker:
        """NAV at session start, peak and now (for rollback reports)."""
        return self._nav

    # --- go-live: gates, paper auto-approval, promotion ---------------------------------------

    def publish_gates(self, results: Sequence[GateResult]) -> None:
        """Store go-live gate results (evaluated by the composition root) for `snapshot().gates`."""
        self._gates = tuple(results)
        self.bus.publish(StateChanged("gates"))

    @property
    def gate_results(self) -> tuple[GateResult, ...] | None:
        return self._gates

    def record_auto_approve_policy(self, policy: AutoApprovePolicySet) -> CommandResult:
        """Record (durably) the policy a paper session approves under; refused in live mode."""
        if self.config.mode is Mode.LIVE or not self._is_paper:
            return CommandResult(False, "auto-approval is for paper sessions only", "LIVE")
        self._emit(policy, durable=True)
        return CommandResult(True, f"auto-approve policy {policy.policy} recorded")

    def strategy_stage(self, strategy: str) -> Stage:
        """SHADOW unless an approved promotion (an audit bead) made it LIVE."""
        return Stage(self.book.strategy_stages.get(strategy, Stage.SHADOW.value))

    def request_promotion(
        self,
        bundle: EvidenceBundle,
        requester: str,
        to_stage: Stage = Stage.LIVE,
    ) -> CommandResult:
        """Ask to promote a strategy; incomplete evidence is refused with what is missing."""
        golive = self.config.golive
        missing = missing_evidence(
            bundle, golive.min_promotion_sessions, golive.min_promotion_regimes
        )
        if missing or not requester.strip():
            reasons = missing or ("requester not named",)
            self._emit(
                PromotionRefused(
                    **self._now_pair(),
                    strategy=bundle.strategy,
                    to_stage=to_stage.value,
                    actor=requester,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "evidence incomplete: " + "; ".join(reasons), "EVIDENCE")
        event = PromotionRequested(
            **self._now_pair(),
            strategy=bundle.strategy,
            from_stage=self.strategy_stage(bundle.strategy).value,
            to_stage=to_stage.value,
            requester=requester.strip(),
            evidence=bundle.summary(),
        )
        self._emit(event, durable=True)
        return CommandResult(True, f"promotion of {bundle.strategy} requested")

    def approve_promotion(
        self, strategy: str, approver: str, tier: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        """Approve a pending promotion; vetoed by kill flags, HALTED, drift, or a wrong approver."""
        request = self.book.promotion_requests.get(strategy)
        ctx = PromotionContext(
            stage=self.strategy_stage(strategy),
            kill_flags=tuple(self.book.kill_flags),
            halted=self.book.trading_state is TradingState.HALTED,
            unresolved_drifts=len(self.book.drifts),
            requested_by=request.requester if request else None,
            evidence_missing=(),
        )
        reasons = refusal_reasons(ctx, to_stage, approver, tier)
        if reasons:
            self._emit(
                PromotionRefused(
                    **self._now_pair(),
                    strategy=strategy,
                    to_stage=to_stage.value,
                    actor=approver,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "promotion refused: " + "; ".join(reasons), "REFUSED")
        self._emit(
            PromotionApproved(
                **self._now_pair(),
                strategy=strategy,
                to_stage=to_stage.value,
                approver=approver.strip(),
                tier=tier,
            ),
            durable=True,
        )
        return CommandResult(True, f"{strategy} promoted to {to_stage}")

    # --- observation -----------------------------------------------------------------------------

    def _sample(self, stage: str, start: Any, end: Any) -> None:
        if start is None or end is None:
            return
        self._latency[stage].append((end - start).total_seconds() * 1000.0)

    def pending_token(self, intent_id: str) -> str | None:
        """The token that approves a pending intent (for the console and auto-approve policies)."""
        pending = self._pending_tokens.get(intent_id)
        return pending[0] if pending else None

    def snapshot(self) -> EngineSnapshot:
        mono = self.clock.monotonic()
        now = self.clock.now()
        pending: list[PendingApproval] = []
        orders: list[OrderView] = []
        for rec in self.book.records.values():
            o = rec.intent.order
            if rec.state is LifecycleState.PROPOSED:
                tok = self._pending_tokens.get(rec.intent.intent_id)
                if tok is None:
                    continue
                issued = self.book.issued_tokens.get(rec.token_id or "")
                checks = pre_trade_checks(
                    rec.intent, self._risk_context(rec.intent), self.config.risk, self.config.stale
                )
                pending.append(
                    PendingApproval(
                        intent=rec.intent,
                        token=tok[0],
                        token_id=rec.token_id or "",
                        issued_at=issued.ts_event if issued else rec.received_at,
                        expires_at=issued.expires_at if issued else now,
                        expires_monotonic=tok[1],
                        checks=checks,
                        evidence_hash=rec.intent.evidence_hash(),
                    )
                )
                continue
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
                    unknown=rec.state.is_working and not self._connected,
                )
            )
        positions = []
        for symbol, pos in sorted(self.book.positions.items()):
            if pos.quantity == 0 and pos.realized == 0:
                continue
            q = self._quotes.get(symbol)
            last = q.last or q.mid if q else None
            unreal = (
                (last - pos.avg_price) * pos.quantity * pos.multiplier
                if last is not None and pos.quantity
                else Decimal(0)
            )
            ratio = self.book.entry_fill_ratio.get(symbol)
            positions.append(
                PositionView(symbol, pos.quantity, pos.avg_price, last, unreal, pos.realized, ratio)
            )
        tail = self._audit_tail()
        last_quote = max((q.ts for q in self._quotes.values()), default=None)
        return EngineSnapshot(
            mode=self.config.mode,
            trading_state=self.book.trading_state,
            kill_confirmed=self.book.kill_confirmed,
            kill_flags=tuple(
                KillFlagView(f.flag, f.reason, f.expires_at) for f in self.book.kill_flags.values()
            ),
            connection=ConnectionView(
                broker=self.broker.name,
                connected=self._connected,
                account_id=self._account_id,
                is_paper=self._is_paper,
                farms=dict(self._farms),
                last_quote_at=last_quote,
            ),
            account=self._account,
            pending=tuple(pending),
            orders=tuple(sorted(orders, key=lambda v: v.state_since, reverse=True)),
            positions=tuple(positions),
            alerts=tuple(self.book.alerts)[-50:],
            latency=LatencyView(
                *(
                    tuple(self._latency[k])
                    for k in ("intent_to_submit", "submit_to_ack", "ack_to_fill")
                )
            ),
            audit_tail=tuple(tail),
            trades_today=self.book.trades_today,
            realized_pnl_today=self.book.realized_today,
            consecutive_losses=self.book.consecutive_losses,
            taken_at=now,
            monotonic_at=mono,
            drifts=tuple(self.book.drifts.values()),
            gates=self._gates,
            scale_tier=self.scale_tier(),
        )

    def _audit_tail(self) -> tuple[BeadView, ...]:
        """The newest beads for the console; re-read only when a bead was appended."""
        head = self.store.head_seq
        if self._tail_cache[0] != head:
            rows = self.store.tail(30)
            views = tuple(
                BeadView(
                    r.seq, datetime.fromisoformat(r.ts), r.kind, r.intent_id, _summary(r.payload)
                )
                for r in rows
            )
            self._tail_cache = (head, views)
        return self._tail_cache[1]

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    @property
    def connected(self) -> bool:
        return self._connected


def _kv(state: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in state.items())


def _summary(payload: str) -> str:
    """A short human line for a bead in the audit tail."""
    data = json.loads(payload)
    for key in ("message", "reason", "to_state", "current", "detail"):
        if data.get(key):
            return f"{key}={data[key]}"
    return ""
