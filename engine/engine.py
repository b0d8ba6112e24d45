"""The Engine facade: commands in, events applied (audit first), snapshots out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from decimal import Decimal

from contracts.broker import (
    OrderRequest,
    Quote,
    order_ref_for,
)
from contracts.config import RiskConfig
from contracts.enums import (
    AlertLevel,
    DenialReason,
    LifecycleState,
    Mode,
    OrderLeg,
    TokenRejection,
    TradingState,
    Trigger,
)
from contracts.events import (
    CancelRequested,
    EngineStarted,
    IntentReceived,
    KillFlagCleared,
    KillFlagRaised,
    LimitChanged,
    OrderStalled,
    OrderSubmitting,
    PositionBead,
    RiskChecked,
    SubmitFailed,
    TokenExpired,
    TokenIssued,
    TokenRejected,
    TokenUsed,
    TraderRejected,
)
from contracts.intent import Instrument, Intent
from engine import crashpoints
from engine.audit import AuditUnavailable
from engine.book import OrderRecord
from engine.broker_events import BrokerEventsMixin
from engine.bus import StateChanged
from engine.core import FLUSH_PERIOD_S, STATE_CONFLICT_FLAG, TIMER_PERIOD_S
from engine.golive_commands import GoLiveMixin
from engine.instruments import with_facts
from engine.intake import StrategyPlugin
from engine.killswitch import KillSwitchMixin
from engine.limits import change_limit, limits_after_restart
from engine.ports import BrokerUnavailable
from engine.promotion import (
    Stage,
)
from engine.reconciling import ReconcilingMixin
from engine.results import CommandResult, ProposalResult
from engine.risk import (
    RiskContext,
    count_working_orders,
    pre_trade_checks,
    reference_price,
    two_sided,
)
from engine.scale import TierStatus, position_cap, tier_for
from engine.snapshot import SnapshotMixin

log = logging.getLogger("deskgate.engine")


class Engine(KillSwitchMixin, ReconcilingMixin, BrokerEventsMixin, GoLiveMixin, SnapshotMixin):
    """Owns lifecycle, approvals, risk, kill switch and audit; one asyncio loop, never blocks.

    Commands: propose, approve, reject, kill, rearm, flatten, reconcile_now, can_approve.
    Observation: `bus.subscribe()` for change notifications, `snapshot()` for the state.
    """

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
        limit_changes: list[LimitChanged] = []
        for event in self.store.events():
            self.book.apply(event)
            if isinstance(event, LimitChanged):
                limit_changes.append(event)
        self._set_risk(limits_after_restart(self.config.risk, limit_changes))
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
                await self.instruments.resolve(rec.intent.order.instrument)
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
        contract = await self.instruments.resolve(intent.order.instrument)
        if contract.ok and contract.facts is not None:
            intent = with_facts(intent, contract.facts)
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
        arrived = self._quote_mono.get(symbol)
        return RiskContext(
            now=self.clock.now(),
            quote=self._quotes.get(symbol),
            instrument=self.instruments.check(intent.order.instrument),
            quote_age_s=None if arrived is None else mono - arrived,
            working_orders_same_side=count_working_orders(
                (r for r in self.book.live.values() if r.intent.intent_id != intent.intent_id),
                symbol,
                side,
            ),
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
        facts = self.instruments.facts(o.instrument)
        if facts is None:
            return Decimal(0)
        price = reference_price(intent, self._quotes.get(o.instrument.symbol))
        return position_cap(tier, price, facts.multiplier)

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
        if not two_sided(self._quotes.get(symbol)) and self._connected:
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

    async def cancel(self, intent_id: str, reason: str = "") -> CommandResult:
        """Cancel a working entry order (its bracket exits go with it). Never blocked: a cancel
        only reduces risk, so it is allowed while HALTED; the broker confirms it."""
        rec = self.book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state not in (LifecycleState.SUBMITTED, LifecycleState.STALLED) or not rec.order_ref:
            return CommandResult(False, f"{intent_id} is {rec.state}: no working order", "STATE")
        if not self._connected:
            return CommandResult(False, "broker disconnected: cancel not sent", "DISCONNECTED")
        self._emit(
            CancelRequested(
                **self._now_pair(),
                intent_id=intent_id,
                order_ref=rec.order_ref,
                reason=reason.strip() or "trader",
            )
        )
        await self.throttle.acquire(urgent=True)
        try:
            await self.broker.cancel(rec.order_ref)
        except BrokerUnavailable as exc:
            return CommandResult(False, f"cancel not sent: {exc}", "BROKER_UNAVAILABLE")
        return CommandResult(True, f"cancel sent for {intent_id}; waiting for the broker")

    # --- limits on the running engine ----------------------------------------------------------

    def set_limit(
        self, key: str, value: str, reason: str = "", actor: str = "trader"
    ) -> CommandResult:
        """Change one risk limit now (see engine.limits); pending intents are re-checked."""
        return change_limit(self, key, value, reason, actor)

    def _recheck_pending(self) -> int:
        """Re-run the checks on every intent waiting for approval; deny the ones that fail."""
        denied = 0
        for rec in list(self.book.live.values()):
            if (
                rec.state is LifecycleState.PROPOSED
                and rec.intent.intent_id in self._pending_tokens
            ):
                checks = self._run_checks(rec.intent, "limits")
                if checks.denials:
                    self._deny(rec, checks)
                    denied += 1
        return denied

    def _set_risk(self, risk: RiskConfig) -> None:
        self.config = self.config.model_copy(update={"risk": risk})

    # --- observation -----------------------------------------------------------------------------

    def pending_token(self, intent_id: str) -> str | None:
        """The token that approves a pending intent (for the console and auto-approve policies)."""
        pending = self._pending_tokens.get(intent_id)
        return pending[0] if pending else None

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    @property
    def connected(self) -> bool:
        return self._connected
