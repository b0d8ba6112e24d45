"""The kill switch as a trading state: HALT and confirm, re-arm, flatten, rollback, triggers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

from contracts.enums import (
    AlertLevel,
    LifecycleState,
    OrderLeg,
    OrderType,
    Side,
    TradingState,
    Trigger,
)
from contracts.events import (
    CancelRequested,
    IntentReceived,
    KillConfirmation,
    PositionBead,
    RollbackCompleted,
    RollbackStarted,
    TradingStateChanged,
)
from contracts.intent import Evidence, Intent, OrderParams
from engine.audit import AuditUnavailable
from engine.core import EngineCore
from engine.ports import BrokerUnavailable
from engine.results import CommandResult
from engine.risk import reduces_position
from engine.rollback import rollback_reason, verify_rollback

log = logging.getLogger("deskgate.engine")


class KillSwitchMixin(EngineCore):
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
