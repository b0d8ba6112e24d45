"""The kill switch as a trading state: HALT at the broker first, confirm, re-arm, loss triggers."""

from __future__ import annotations

import asyncio
import logging

from contracts.config import Config
from contracts.enums import AlertLevel, LifecycleState, TokenRejection, TradingState
from contracts.events import CancelRequested, KillConfirmation, TradingStateChanged
from engine.approvals import ApprovalDesk
from engine.audit import AuditUnavailable
from engine.book import Book
from engine.clock import Clock
from engine.limits import RiskLimits
from engine.ports import BrokerUnavailable
from engine.recorder import BackgroundTasks, EventRecorder
from engine.results import CommandResult
from engine.session import BrokerSession
from engine.throttle import OutboundThrottle

log = logging.getLogger("deskgate.engine")
LIVE_AT_BROKER = ("WORKING", "PENDING_CANCEL", "PENDING_SUBMIT")


class KillSwitch:
    """Owns the trading state (ACTIVE / REDUCING / HALTED) and the kill's broker confirmation."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        approvals: ApprovalDesk,
        throttle: OutboundThrottle,
        tasks: BackgroundTasks,
        clock: Clock,
        config: Config,
        *,
        limits: RiskLimits,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._approvals = approvals
        self._throttle = throttle
        self._tasks = tasks
        self._clock = clock
        self._config = config
        self._limits = limits
        self.confirmation: asyncio.Task[None] | None = None
        """The running global cancel + broker confirmation after a kill."""
        self._auto_kill: asyncio.Task[CommandResult] | None = None
        """A loss trigger's kill, spawned and not yet run: the events right behind the one that
        tripped it see the book still ACTIVE, and must not throw the switch again."""

    @property
    def state(self) -> TradingState:
        return self._book.trading_state

    def set_state(self, state: TradingState, reason: str, actor: str) -> None:
        """Record a trading-state change (synced); raises AuditUnavailable if not stored."""
        if self._book.trading_state is state:
            return
        self._recorder.emit(
            TradingStateChanged(
                **self._recorder.now_pair(),
                previous=self._book.trading_state,
                current=state,
                reason=reason,
                actor=actor,
            ),
            durable=True,
        )

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult:
        """HALT: block new entries, globally cancel, and confirm with the broker.

        Never blocked by the audit store: the halt and the cancel happen first; their records
        are queued with a critical alert if the store refuses them.
        """
        reason = reason.strip() or "kill switch"
        if self._book.trading_state is not TradingState.HALTED:
            self._recorder.record_safety(
                TradingStateChanged(
                    **self._recorder.now_pair(),
                    previous=self._book.trading_state,
                    current=TradingState.HALTED,
                    reason=reason,
                    actor=actor,
                )
            )
        self.start_confirmation(resend=True)
        self._recorder.alert(AlertLevel.CRITICAL, "KILL", f"HALTED by {actor}: {reason}")
        self._approvals.void_all(TokenRejection.VOID_KILL)
        return CommandResult(True, f"HALTED: {reason}; cancelling all working orders")

    def start_confirmation(self, *, resend: bool) -> None:
        """(Re)start the global cancel and the wait for the broker to report nothing working."""
        if self.confirmation and not self.confirmation.done():
            self.confirmation.cancel()
        self.confirmation = asyncio.get_running_loop().create_task(
            self._cancel_and_confirm(resend), name="kill-confirm"
        )

    async def _cancel_and_confirm(self, resend: bool) -> None:
        """Cancel globally, then ask the broker until nothing works; never give up while HALTED.

        Confirmed only when the broker lists no live order AND the engine holds no order it sent
        without a final answer (one whose cancel it has not heard of may still work: the
        broker's answer may have been lost). A filled entry's bracket exits are the broker's
        orders: its list decides for them. After a request that failed or timed out, one empty
        answer is not trusted: ib_async keys every open-orders request alike, so the next answer
        can be the tail of the one that timed out; the broker is asked again at once.
        """
        working = len(self._book.working())
        self._recorder.record_safety(
            KillConfirmation(**self._recorder.now_pair(), confirmed=False, working_orders=working)
        )
        delay = 0.2
        sent = False
        suspect = False
        warned = False
        while self._book.trading_state is TradingState.HALTED:
            if not self._session.connected:
                await asyncio.sleep(0.5)
                continue
            try:
                if resend or not sent:
                    await self._throttle.acquire(urgent=True)
                    await self._session.broker.cancel_all()
                    sent, resend = True, False
                    self._recorder.record_safety(
                        CancelRequested(
                            **self._recorder.now_pair(),
                            intent_id=None,
                            order_ref=None,
                            reason="kill",
                        )
                    )
                open_orders = await self._session.broker.open_orders()
            except BrokerUnavailable as exc:
                log.warning("kill confirmation: open orders not answered, asking again: %s", exc)
                resend = suspect = True
                await asyncio.sleep(0.5)
                continue
            live_at_broker = [o for o in open_orders if o.status.value in LIVE_AT_BROKER]
            held_working = [
                r for r in self._book.working() if r.state is not LifecycleState.MANAGED
            ]
            if not live_at_broker and not held_working:
                if suspect:
                    suspect = False
                    continue
                self._recorder.record_safety(
                    KillConfirmation(**self._recorder.now_pair(), confirmed=True, working_orders=0)
                )
                self._recorder.alert(
                    AlertLevel.INFO, "KILL_CONFIRMED", "broker reports no working orders"
                )
                return
            suspect = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            if delay >= 2.0:
                resend = True
                if not live_at_broker and not warned:
                    warned = True
                    ids = ", ".join(r.intent.intent_id for r in held_working[:5])
                    self._recorder.alert(
                        AlertLevel.WARNING,
                        "KILL_UNCONFIRMED",
                        f"the broker lists nothing working but {len(held_working)} order(s) "
                        f"have no final answer ({ids}); still asking",
                    )

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult:
        reason = reason.strip()
        if not reason:
            return CommandResult(False, "re-arm needs a reason", "REASON_REQUIRED")
        if self._book.trading_state is TradingState.ACTIVE:
            return CommandResult(False, "already ACTIVE", "STATE")
        drifts = len(self._book.drifts)
        if drifts and self._book.trading_state is TradingState.REDUCING:
            return CommandResult(
                False, f"{drifts} unresolved drift(s): resolve them to lift REDUCING", "DRIFT"
            )
        if self.confirmation and not self.confirmation.done():
            self.confirmation.cancel()
        # Unresolved drift keeps the engine REDUCING even after a kill is lifted.
        target, actor_of_state = (
            (TradingState.REDUCING, "reconciliation") if drifts else (TradingState.ACTIVE, actor)
        )
        try:
            self.set_state(target, reason, actor_of_state)
        except AuditUnavailable as exc:
            return CommandResult(False, f"re-arm not recorded: {exc}", "AUDIT_UNAVAILABLE")
        if drifts:
            return CommandResult(True, f"re-armed to REDUCING: {drifts} unresolved drift(s)")
        return CommandResult(True, f"ACTIVE again: {reason}")

    def check_loss_triggers(self) -> None:
        """Daily loss cap and the consecutive-loss lockout throw the kill switch.

        Both are a session's limits: they end when the session rolls. After the trader re-arms,
        only a further loss throws the switch again (an account update alone never does).
        """
        book = self._book
        book.roll_session(self._clock.now())
        if book.trading_state is TradingState.HALTED:
            return
        risk = self._limits.risk
        rearmed_realized = book.realized_at_rearm
        reason = None
        if book.realized_today <= -risk.daily_loss_limit and (
            rearmed_realized is None or book.realized_today < rearmed_realized
        ):
            reason = f"daily loss cap: realized {book.realized_today:.2f}"
        elif (
            book.consecutive_losses >= risk.max_consecutive_losses
            and book.consecutive_losses > book.losses_at_rearm
        ):
            reason = f"{book.consecutive_losses} consecutive losses"
        if reason and (self._auto_kill is None or self._auto_kill.done()):
            self._auto_kill = self._tasks.spawn(self.kill(reason, actor="auto"), "auto-kill")

    async def stop(self) -> None:
        if self.confirmation:
            self.confirmation.cancel()
            try:
                await self.confirmation
            except (asyncio.CancelledError, Exception):
                log.debug("kill confirmation ended at stop")
