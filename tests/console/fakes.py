"""A hand-written fake of the `Engine` facade that serves scripted `EngineSnapshot`s."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from contracts.broker import AccountSnapshot, Quote
from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    DenialReason,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    Mode,
    OrderType,
    Side,
    TradingState,
)
from contracts.events import AlertRaised, CheckOutcome, DriftDetected, RollbackCompleted
from contracts.intent import (
    Instrument,
    Intent,
)
from contracts.market import ContractFacts
from engine.audit import AuditStore
from engine.book import PendingOutcome
from engine.bus import EventBus, StateChanged
from engine.clock import ManualClock
from engine.fill_journal import FillJournalRow
from engine.manual import ContractLookup
from engine.promotion_ceremony import PromotionCeremony
from engine.results import CommandResult, ProposalResult
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
from tests.console.intents import STANDARD_CHECKS, make_intent, passing_checks

D = Decimal

__all__ = ["STANDARD_CHECKS", "FakeEngine", "make_intent", "passing_checks"]


class FakeEngine:
    """Same public surface as `engine.engine.Engine`; state is set by the test, commands
    mutate it the way the real engine would, and every change is published on `bus`."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: ManualClock | None = None,
        mode: Mode = Mode.SIM,
        auto_fill: bool = False,
        fill_delay: float = 0.0,
        command_delay: float = 0.0,
        start_delay: float = 0.0,
    ) -> None:
        self.config = config or Config(mode=mode)
        self.clock = clock or ManualClock()
        self.bus = EventBus()
        self.mode = mode
        self.auto_fill = auto_fill
        self.fill_delay = fill_delay
        self.command_delay = command_delay
        self.start_delay = start_delay
        self.started = False
        self._ceremony_store: AuditStore | None = None
        self.stopped = False
        self.calls: list[tuple[str, ...]] = []
        self.trading_state = TradingState.ACTIVE
        self.kill_confirmed: bool | None = None
        self.kill_flags: tuple[KillFlagView, ...] = ()
        self.connection = ConnectionView(
            broker="sim",
            connected=True,
            account_id="DU0000001",
            is_paper=True,
            farms={"usfarm": True, "ushmds": True},
            last_quote_at=self.clock.now() - timedelta(seconds=2),
        )
        self.pending: list[PendingApproval] = []
        self.orders: list[OrderView] = []
        self.positions: list[PositionView] = []
        self.alerts: list[AlertRaised] = []
        self.latency = LatencyView()
        self.audit: list[BeadView] = []
        self.fills: list[FillJournalRow] = []
        self.audit_pages_read: list[tuple[int, int]] = []
        """(top seq, size) of every page the audit screen asked for."""
        self.drifts: list[DriftDetected] = []
        self.trades_today = 0
        self.realized_pnl_today = D(0)
        self.consecutive_losses = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_rollback: RollbackCompleted | None = None
        self.quotes: dict[str, Quote] = {}
        self.history: list[PendingOutcome] = []

    # --- scripting helpers -------------------------------------------------------------

    def add_pending(
        self,
        intent: Intent,
        *,
        expires_in: float | None = None,
        checks: tuple[CheckOutcome, ...] | None = None,
        publish: bool = True,
    ) -> PendingApproval:
        expiry = self.config.tokens.expiry_s if expires_in is None else expires_in
        pending = PendingApproval(
            intent=intent,
            token=f"tok-{intent.intent_id}",
            token_id=f"tid-{intent.intent_id}",
            issued_at=self.clock.now(),
            expires_at=self.clock.now() + timedelta(seconds=expiry),
            expires_monotonic=self.clock.monotonic() + expiry,
            checks=checks if checks is not None else passing_checks(),
            evidence_hash=intent.evidence_hash(),
        )
        self.pending.append(pending)
        self.bead(
            "INTENT",
            intent.intent_id,
            f"{intent.strategy} proposed {intent.order.side} "
            f"{intent.order.quantity} {intent.order.instrument.symbol}",
        )
        if publish:
            self.publish("pending")
        return pending

    def add_order(
        self,
        intent_id: str,
        state: LifecycleState,
        *,
        age_s: float = 0.0,
        symbol: str = "AAPL",
        requested: str = "50",
        filled: str = "0",
        limit: str = "187.20",
        side: Side = Side.BUY,
    ) -> OrderView:
        order = OrderView(
            intent_id=intent_id,
            symbol=symbol,
            side=side,
            order_type=OrderType.LIMIT,
            requested=D(requested),
            filled=D(filled),
            state=state,
            state_since=self.clock.now() - timedelta(seconds=age_s),
            limit_price=D(limit),
        )
        self.orders.append(order)
        return order

    def alert(self, level: AlertLevel, code: str, message: str, *, age_s: float = 0.0) -> None:
        ts = self.clock.now() - timedelta(seconds=age_s)
        self.alerts.append(
            AlertRaised(
                event_id=f"alert-{len(self.alerts) + 1}",
                ts_event=ts,
                ts_init=ts,
                level=level,
                code=code,
                message=message,
            )
        )

    def add_drift(
        self,
        drift_id: str,
        drift_type: DriftType,
        subject: str,
        engine_state: dict[str, str],
        broker_state: dict[str, str],
        *,
        severity: DriftSeverity = DriftSeverity.HIGH,
        age_s: float = 0.0,
        publish: bool = True,
    ) -> DriftDetected:
        """An unresolved drift the way reconciliation raises it: bead, alert, REDUCING."""
        ts = self.clock.now() - timedelta(seconds=age_s)
        drift = DriftDetected(
            event_id=f"ev-{drift_id}",
            ts_event=ts,
            ts_init=ts,
            drift_id=drift_id,
            drift_type=drift_type,
            subject=subject,
            engine_state=engine_state,
            broker_state=broker_state,
            severity=severity,
        )
        self.drifts.append(drift)
        self.bead("RECONCILIATION_DRIFT", None, f"{drift_type} {subject}")
        kv = " ".join(f"{k}={v}" for k, v in engine_state.items())
        bkv = " ".join(f"{k}={v}" for k, v in broker_state.items())
        self.alert(
            AlertLevel.CRITICAL if severity is DriftSeverity.CRITICAL else AlertLevel.WARNING,
            "DRIFT",
            f"{drift_type} {subject}: engine {kv} / broker {bkv}",
            age_s=age_s,
        )
        if self.trading_state is TradingState.ACTIVE:
            self.trading_state = TradingState.REDUCING
        if publish:
            self.publish("reconciled")
        return drift

    def bead(self, kind: str, intent_id: str | None, summary: str) -> None:
        self.audit.append(
            BeadView(
                seq=len(self.audit) + 1,
                ts=self.clock.now(),
                kind=kind,
                intent_id=intent_id,
                summary=summary,
            )
        )

    def end_pending(self, pending: PendingApproval, outcome: str, reason: str) -> None:
        order = pending.intent.order
        self.history.append(
            PendingOutcome(
                intent_id=pending.intent.intent_id,
                symbol=order.instrument.symbol,
                side=order.side,
                quantity=order.quantity,
                outcome=outcome,
                reason=reason,
                at=self.clock.now(),
            )
        )

    def publish(self, reason: str) -> None:
        self.bus.publish(StateChanged(reason))

    def find_pending(self, intent_id: str) -> PendingApproval | None:
        return next((p for p in self.pending if p.intent.intent_id == intent_id), None)

    # --- the Engine surface ------------------------------------------------------------

    async def start(self) -> None:
        self.calls.append(("start",))
        if self.start_delay:
            await asyncio.sleep(self.start_delay)
        self.started = True
        self.publish("started")

    async def stop(self) -> None:
        self.calls.append(("stop",))
        self.stopped = True
        for task in list(self._tasks):
            task.cancel()

    def snapshot(self) -> EngineSnapshot:
        if not self.started:
            raise RuntimeError("engine not started")
        return EngineSnapshot(
            mode=self.mode,
            trading_state=self.trading_state,
            kill_confirmed=self.kill_confirmed,
            kill_flags=self.kill_flags,
            connection=self.connection,
            account=AccountSnapshot(
                account_id=self.connection.account_id,
                is_paper=True,
                net_liquidation=D("100000"),
                ts=self.clock.now(),
            ),
            pending=tuple(self.pending),
            orders=tuple(self.orders),
            positions=tuple(self.positions),
            alerts=tuple(self.alerts),
            latency=self.latency,
            audit_tail=tuple(self.audit[-50:]),
            drifts=tuple(self.drifts),
            fills=tuple(self.fills),
            trades_today=self.trades_today,
            realized_pnl_today=self.realized_pnl_today,
            consecutive_losses=self.consecutive_losses,
            taken_at=self.clock.now(),
            monotonic_at=self.clock.monotonic(),
        )

    def quote(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def pending_history(self) -> tuple[PendingOutcome, ...]:
        return tuple(self.history)

    def audit_page(self, top_seq: int | None, n: int) -> tuple[int, tuple[BeadView, ...]]:
        head = len(self.audit)
        top = head if top_seq is None else min(top_seq, head)
        self.audit_pages_read.append((top, n))
        return head, tuple(reversed(self.audit[max(0, top - n) : top]))

    async def cancel(self, intent_id: str, reason: str = "") -> CommandResult:
        """Cancel one working order; the broker confirms at once (CANCELLED)."""
        self.calls.append(("cancel", intent_id, reason))
        for index, order in enumerate(self.orders):
            if order.intent_id == intent_id and order.state.is_working:
                self.orders[index] = replace(
                    order, state=LifecycleState.CANCELLED, state_since=self.clock.now()
                )
                self.bead("ORDER_CANCELLED", intent_id, reason or "cancelled")
                self.publish("cancelled")
                return CommandResult(True, f"{intent_id} cancelled (broker-confirmed)")
        return CommandResult(False, f"{intent_id}: no working order to cancel")

    def set_quote(self, symbol: str, bid: str, ask: str, *, publish: bool = True) -> None:
        self.quotes[symbol] = Quote(
            symbol=symbol, bid=D(bid), ask=D(ask), last=D(ask), ts=self.clock.now()
        )
        if publish:
            self.publish("quote")

    async def propose(self, intent: Intent, source: str = "api") -> ProposalResult:
        self.calls.append(("propose", intent.intent_id))
        self.add_pending(intent)
        return ProposalResult(True, intent.intent_id, "waiting for approval")

    def can_approve(self, intent_id: str) -> CommandResult:
        pending = self.find_pending(intent_id)
        if pending is None:
            return CommandResult(False, "no such pending intent", "UNKNOWN_TOKEN")
        if self.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading halted", DenialReason.HALTED.value)
        if not self.connection.connected:
            return CommandResult(False, "broker disconnected", DenialReason.DISCONNECTED.value)
        if pending.seconds_left(self.clock.monotonic()) <= 0:
            return CommandResult(False, "token expired", "EXPIRED")
        denied = [c for c in pending.checks if not c.passed]
        if denied:
            return CommandResult(
                False,
                f"risk: {denied[0].detail}",
                (denied[0].reason or DenialReason.STATE_CONFLICT).value,
            )
        return CommandResult(True, "ok")

    async def approve(self, intent_id: str, token: str) -> CommandResult:
        self.calls.append(("approve", intent_id, token))
        if self.command_delay:
            await asyncio.sleep(self.command_delay)
        verdict = self.can_approve(intent_id)
        if not verdict.ok:
            return verdict
        pending = self.find_pending(intent_id)
        assert pending is not None
        if token != pending.token:
            return CommandResult(False, "token does not match", "WRONG_INTENT")
        self.pending.remove(pending)
        order = pending.intent.order
        self.add_order(
            intent_id,
            LifecycleState.SUBMITTED,
            symbol=order.instrument.symbol,
            requested=str(order.quantity),
            limit=str(order.limit_price),
            side=order.side,
        )
        self.bead(
            "SUBMITTING", intent_id, f"{order.side} {order.quantity} {order.instrument.symbol}"
        )
        self.trades_today += 1
        self.publish("approved")
        if self.auto_fill:
            task = asyncio.get_running_loop().create_task(self._fill_later(intent_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return CommandResult(True, f"{intent_id} submitted")

    async def _fill_later(self, intent_id: str) -> None:
        await asyncio.sleep(self.fill_delay)
        order = next(o for o in self.orders if o.intent_id == intent_id)
        filled = replace(
            order,
            state=LifecycleState.FILLED,
            filled=order.requested,
            state_since=self.clock.now(),
            avg_fill_price=order.limit_price,
        )
        self.orders[self.orders.index(order)] = filled
        self.positions.append(
            PositionView(
                symbol=order.symbol,
                quantity=order.requested * order.side.sign,
                avg_price=order.limit_price or D(0),
                last=order.limit_price,
                unrealized_pnl=D(0),
                realized_pnl=D(0),
                fill_ratio=D(1),
            )
        )
        self.bead("FILL", intent_id, f"filled {order.requested} @ {order.limit_price}")
        self.publish("fill")

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult:
        self.calls.append(("reject", intent_id, reason))
        pending = self.find_pending(intent_id)
        if pending is None:
            return CommandResult(False, "no such pending intent")
        self.pending.remove(pending)
        self.end_pending(pending, "REJECTED", reason or "rejected by the trader")
        self.bead("TRADER_REJECTED", intent_id, reason or "rejected")
        self.publish("rejected")
        return CommandResult(True, f"{intent_id} rejected")

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult:
        self.calls.append(("kill", reason, actor))
        if self.command_delay:
            await asyncio.sleep(self.command_delay)
        self.trading_state = TradingState.HALTED
        self.kill_confirmed = False
        for pending in list(self.pending):
            self.pending.remove(pending)
            self.end_pending(pending, "VOIDED", f"voided by the kill switch: {reason}")
        self.publish("halted")
        for index, order in enumerate(self.orders):
            if order.state.is_working:
                self.orders[index] = replace(
                    order, state=LifecycleState.CANCELLED, state_since=self.clock.now()
                )
        self.kill_confirmed = True
        self.bead("TRADING_STATE", None, f"HALTED by {actor}: {reason}")
        self.publish("kill-confirmed")
        return CommandResult(True, "HALTED; all orders cancelled (broker-confirmed)")

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult:
        self.calls.append(("rearm", reason, actor))
        self.trading_state = TradingState.ACTIVE
        self.kill_confirmed = None
        self.publish("rearmed")
        return CommandResult(True, "trading re-armed: ACTIVE")

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult:
        self.calls.append(("flatten", reason, actor))
        self.positions = [replace(p, quantity=D(0)) for p in self.positions]
        self.publish("flatten")
        return CommandResult(True, "flatten orders sent")

    async def rollback(self, reason: str, actor: str = "trader") -> CommandResult:
        """Halt and flatten; no incident (`last_rollback` stays None: the real engine's job)."""
        self.calls.append(("rollback", reason, actor))
        self.trading_state = TradingState.HALTED
        self.positions = [replace(p, quantity=D(0)) for p in self.positions]
        self.publish("rollback")
        return CommandResult(True, "rolled back: HALTED, flat")

    async def reconcile_now(self) -> CommandResult:
        self.calls.append(("reconcile",))
        if self.command_delay:
            await asyncio.sleep(self.command_delay)
        return CommandResult(True, "reconciled: no drift")

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult:
        self.calls.append(("resolve_drift", drift_id, resolution.value, note, actor))
        if self.command_delay:
            await asyncio.sleep(self.command_delay)
        drift = next((d for d in self.drifts if d.drift_id == drift_id), None)
        if drift is None:
            return CommandResult(False, f"no unresolved drift {drift_id}", "UNKNOWN_DRIFT")
        if not note.strip():
            return CommandResult(False, "a resolution needs a note", "NOTE_REQUIRED")
        self.drifts.remove(drift)
        self.bead("RECONCILIATION_RESOLUTION", None, f"{drift_id} {resolution}: {note}")
        if not self.drifts and self.trading_state is TradingState.REDUCING:
            self.trading_state = TradingState.ACTIVE
        self.publish("drift-resolved")
        return CommandResult(True, f"drift {drift_id} {resolution}")

    def set_limit(
        self, key: str, value: str, reason: str = "", actor: str = "trader"
    ) -> CommandResult:
        """As the engine's: validated by `plan_limit_change`, loosening needs a reason."""
        from engine.limits import LimitError, plan_limit_change

        self.calls.append(("set_limit", key, value, reason, actor))
        try:
            change = plan_limit_change(self.config.risk, key, value, reason)
        except LimitError as exc:
            return CommandResult(False, str(exc), "BAD_LIMIT")
        self.config = self.config.model_copy(update={"risk": change.risk})
        verb = "tightened" if change.tightens else "loosened"
        return CommandResult(True, f"{change.key} {verb}: {change.old} -> {change.new}")

    def promotion_ceremony(self) -> PromotionCeremony:
        """The real ceremony over a store of its own (the fake engine keeps no audit)."""
        if self._ceremony_store is None:
            directory = Path(tempfile.mkdtemp(prefix="fake-engine-"))
            self._ceremony_store = AuditStore(directory / "audit.sqlite")
        return PromotionCeremony(self.config, self._ceremony_store, self.clock)

    # --- the ticket, close and reconnect (real behaviour: tests/security/test_ticket_attacks.py)

    async def lookup_contract(self, symbol: str) -> ContractLookup:
        """Every symbol is a US stock on the cent grid; its quote is whatever the test set."""
        facts = ContractFacts(
            con_id=1000 + sum(map(ord, symbol)),
            symbol=symbol,
            sec_type="STK",
            exchange="SMART",
            currency="USD",
            multiplier=D(1),
            min_tick=D("0.01"),
        )
        return ContractLookup(Instrument(symbol=symbol), facts)

    def check_intent(self, intent: Intent) -> tuple[CheckOutcome, ...]:
        return passing_checks()

    async def propose_manual(self, intent: Intent, replaces: str | None = None) -> ProposalResult:
        self.calls.append(("propose_manual", intent.intent_id, replaces or ""))
        self.add_pending(intent)
        return ProposalResult(True, intent.intent_id, "waiting for approval")

    async def close_position(
        self, symbol: str, reason: str, actor: str = "trader"
    ) -> CommandResult:
        self.calls.append(("close_position", symbol, reason, actor))
        self.positions = [
            replace(p, quantity=D(0)) if p.symbol == symbol else p for p in self.positions
        ]
        self.publish("close")
        return CommandResult(True, f"{symbol}: close order sent")

    def reconnect_now(self) -> CommandResult:
        self.calls.append(("reconnect_now",))
        return CommandResult(True, "reconnecting now")
