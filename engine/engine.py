"""The Engine facade: builds the components over one store, book, bus and clock, and delegates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.base import Frozen
from contracts.broker import BrokerEvent, Quote
from contracts.config import Config
from contracts.enums import AlertLevel, DriftResolution, LifecycleState, Mode, TradingState, Trigger
from contracts.events import (
    CheckOutcome,
    ContractResolved,
    EngineStarted,
    KillFlagCleared,
    RollbackCompleted,
    StrategyRecorded,
    TradingStateChanged,
    build_validators,
)
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts
from engine.approvals import ApprovalDesk
from engine.audit import AuditStore, AuditUnavailable
from engine.book import Book, PendingOutcome
from engine.broker_events import BrokerEventRouter
from engine.bus import EventBus, StateChanged
from engine.clock import Clock, SystemClock
from engine.execution import ExecutionEvents
from engine.instruments import InstrumentMaster, exchange_date
from engine.intake import IntakeServer, StrategyPlugin
from engine.killswitch import KillSwitch
from engine.limits import RiskLimits
from engine.manual import ContractLookup, ManualDesk
from engine.margin_watch import MarginWatch
from engine.orders import OrderPath
from engine.ports import BrokerPort, BrokerUnavailable
from engine.pretrade import PreTradeRisk
from engine.previews import PreviewDesk
from engine.promotion import EvidenceBundle, GoLive, Stage, stage_of
from engine.promotion_ceremony import PromotionCeremony, RunningEngine
from engine.reconciliation import Reconciler
from engine.recorder import BackgroundTasks, EventRecorder
from engine.replay import replay_into
from engine.results import CommandResult, ProposalResult
from engine.safety import SafetyActions
from engine.scale import TierStatus
from engine.session import BrokerSession
from engine.strategy.exits import StrategyOrders
from engine.strategy.manager import StrategyPanelView
from engine.style_desk import StyleDesk
from engine.throttle import OutboundThrottle
from engine.tokens import TokenBook
from engine.view import BeadView, EngineSnapshot, SnapshotBuilder

log = logging.getLogger("deskgate.engine")

TIMER_PERIOD_S = 0.5
FLUSH_PERIOD_S = 0.1


class Engine:
    """Owns lifecycle, approvals, risk, kill switch and audit; one asyncio loop, never blocks.

    A thin facade: each command is delegated to the component that owns it. Components share
    one audit store, book, bus and clock and are wired here, once.
    Commands: propose, approve, reject, cancel, kill, rearm, flatten, close_position, rollback,
    resolve_drift, reconcile_now, reconnect_now, can_approve; the ticket's lookup_contract,
    check_intent and propose_manual.
    Observation: `bus.subscribe()`, `snapshot()`, `pending_history()`.
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
        self._config = config
        self.broker = broker
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()
        directory = data_dir or config.resolved_data_dir()
        self.store = store or AuditStore(Path(directory) / "audit.sqlite")
        self.book = Book()
        self.throttle = OutboundThrottle(config.risk.max_orders_per_second, SystemClock())
        self.recorder = EventRecorder(self.store, self.book, self.bus, self.clock)
        background = BackgroundTasks()
        book, recorder, clock_ = self.book, self.recorder, self.clock
        self.session = BrokerSession(broker, recorder, is_paper=config.mode is not Mode.LIVE)
        self.instruments = InstrumentMaster(
            broker,
            self._record_contract,
            today=lambda: exchange_date(clock_.now()),
            roll_days=config.futures.roll_days_before_expiry,
        )
        self.previews = PreviewDesk(
            recorder, background, config.futures, getattr(broker, "what_if", None)
        )
        self.limits = RiskLimits(config.risk, recorder)
        self.approvals = ApprovalDesk(recorder, book, clock_, expiry_s=config.tokens.expiry_s)
        self.risk = PreTradeRisk(
            recorder,
            book,
            self.session,
            self.approvals,
            clock_,
            config,
            instruments=self.instruments,
            limits=self.limits,
        )
        self.kill_switch = KillSwitch(
            recorder,
            book,
            self.session,
            self.approvals,
            self.throttle,
            background,
            clock_,
            config,
            limits=self.limits,
        )
        self.order_path = OrderPath(
            recorder,
            book,
            self.session,
            self.approvals,
            self.risk,
            self.throttle,
            clock_,
            config,
            instruments=self.instruments,
            previews=self.previews,
        )
        self.safety = SafetyActions(
            recorder,
            book,
            self.session,
            self.kill_switch,
            self.order_path,
            self.throttle,
            background,
            clock_,
            config,
        )
        self.execution = ExecutionEvents(recorder, book, self.session, self.kill_switch, clock_)
        self.reconciler = Reconciler(
            recorder,
            book,
            self.session,
            self.kill_switch,
            self.execution,
            background,
            clock_,
            config,
        )
        self.router = BrokerEventRouter(
            recorder,
            book,
            self.session,
            self.execution,
            self.reconciler,
            self.kill_switch,
            self.safety,
            background,
            clock_,
        )
        self.styles = StyleDesk(
            recorder,
            book,
            self.session,
            self.order_path,
            self.throttle,
            clock_,
            config,
            instruments=self.instruments,
        )
        self.manual = ManualDesk(
            book, self.bus, self.session, self.instruments, self.risk, self.order_path
        )
        self.strategy_orders = StrategyOrders(
            recorder,
            book,
            self.session,
            self.order_path,
            self.throttle,
            self.store,
            self.instruments,
            lambda: self.config,
        )
        self.margin = MarginWatch(recorder, config.alerts.margin_cushion_pct)
        self.golive = GoLive(recorder, book, self.session, config)
        self._view = SnapshotBuilder(
            self.store,
            book,
            self.session,
            self.approvals,
            self.risk,
            self.golive,
            clock_,
            config,
            styles=self.styles,
            previews=self.previews,
            instruments=self.instruments,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._started = False
        self._intake = IntakeServer(intake_socket, self.propose) if intake_socket else None
        self._sources = list(sources)
        broker.set_event_sink(self.handle_broker_event)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild from the audit store, void old tokens, connect, recover, start timers.

        A stored record that no longer parses does not stop the start: it is reported (seq and
        reason), and the engine starts HALTED with a critical alert; kill, flatten and rollback
        still work.
        """
        if self._started:
            return
        self._started = True
        build_validators()  # deferred at import (the console's first frame); built before any order
        unreadable = replay_into(
            self.store, self.book, self.limits.observe, self.styles.observe_replayed
        )
        self.limits.restore()
        voided = self.approvals.void_after_restart()
        self.execution.resolve_write_ahead()
        self.recorder.emit(
            EngineStarted(
                **self.recorder.now_pair(),
                mode=self.config.mode.value,
                broker=self.broker.name,
                voided_tokens=voided,
            ),
            durable=True,
        )
        if unreadable:
            self._halt_for_unreadable(unreadable)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._timers(), name="engine-timers"))
        self._tasks.append(loop.create_task(self._flusher(), name="engine-flush"))
        try:
            await self.broker.connect()
        except BrokerUnavailable as exc:
            self.recorder.alert(AlertLevel.CRITICAL, "BROKER_UNAVAILABLE", f"cannot connect: {exc}")
            self.safety.note_connection_failure()
        else:
            self.session.connected = self.broker.connected
            await self.execution.recover()
        self.reconciler.enabled = True
        for rec in list(self.book.records.values()):
            if rec.state is LifecycleState.PROPOSED:
                await self.instruments.resolve(rec.intent.order.instrument)
                await self.session.watch_quote(rec.intent.order.instrument)
                await self.order_path.offer_for_approval(rec, stage="proposal")
        if self.book.trading_state is TradingState.HALTED and not self.book.kill_confirmed:
            self.kill_switch.start_confirmation(resend=True)
        if self.session.connected:
            await self.reconciler.reconcile("start-up")
        await self.styles.resume_after_restart()
        self._tasks.append(loop.create_task(self.reconciler.run_periodically(), name="reconcile"))
        if self._intake is not None:
            try:
                await self._intake.start()
            except OSError as exc:
                self.recorder.alert(
                    AlertLevel.WARNING, "INTAKE_SOCKET", f"intake socket not open: {exc}"
                )
        for source in self._sources:
            self._tasks.append(loop.create_task(self._run_source(source), name="intent-source"))
        self.bus.publish(StateChanged("started"))

    @property
    def config(self) -> Config:
        """The configuration in force: the file's, with the risk limits changed since start."""
        if self.limits.risk is self._config.risk:
            return self._config
        return self._config.model_copy(update={"risk": self.limits.risk})

    @config.setter
    def config(self, config: Config) -> None:
        """Replace the facade's configuration; its risk limits apply at once (tests, drills)."""
        self._config = config
        self.limits.configured = self.limits.risk = config.risk

    def _record_contract(self, query: Instrument, facts: ContractFacts) -> None:
        self.recorder.emit(ContractResolved(**self.recorder.now_pair(), query=query, facts=facts))

    def _halt_for_unreadable(self, unreadable: list[tuple[int, str]]) -> None:
        listed = "; ".join(f"seq {seq}: {reason}" for seq, reason in unreadable[:5])
        more = f" (+{len(unreadable) - 5} more)" if len(unreadable) > 5 else ""
        self.recorder.alert(
            AlertLevel.CRITICAL,
            "UNREADABLE_RECORD",
            f"{len(unreadable)} stored record(s) no longer parse: {listed}{more}",
        )
        if self.book.trading_state is not TradingState.HALTED:
            self.recorder.record_safety(
                TradingStateChanged(
                    **self.recorder.now_pair(),
                    previous=self.book.trading_state,
                    current=TradingState.HALTED,
                    reason=f"{len(unreadable)} unreadable audit record(s)",
                    actor="replay",
                )
            )

    async def _run_source(self, source: StrategyPlugin) -> None:
        try:
            await source(self.propose, self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("intent source failed")
            self.recorder.alert(
                AlertLevel.WARNING, "SOURCE_FAILED", f"intent source stopped: {exc}"
            )

    async def stop(self) -> None:
        rollback = self.safety.automatic
        if rollback is not None and not rollback.done():
            rollback.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rollback
        if self._intake is not None:
            await self._intake.stop()
        self.reconciler.stop()
        await self.styles.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.kill_switch.stop()
        with contextlib.suppress(Exception):
            await self.broker.disconnect()
        try:
            self.recorder.flush()
        except AuditUnavailable as exc:
            log.error("audit flush at stop failed: %s", exc)
        self._started = False

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_PERIOD_S)
            self.recorder.periodic_flush()

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(TIMER_PERIOD_S)
            try:
                self.tick()
            except AuditUnavailable as exc:
                log.error("timer tick could not write: %s", exc)

    def tick(self) -> None:
        """Expire tokens, stall silent orders, clear lapsed kill flags (called twice a second)."""
        self.approvals.expire_due()
        self.order_path.stall_silent_orders()
        self.reconciler.chase_unanswered_cancels()
        now = self.clock.now()
        for flag, raised in list(self.book.kill_flags.items()):
            if raised.expires_at is not None and now >= raised.expires_at:
                self.recorder.emit(
                    KillFlagCleared(**self.recorder.now_pair(), flag=flag, reason="expired")
                )

    # --- the broker port's sink --------------------------------------------------------------

    def handle_broker_event(self, event: BrokerEvent) -> None:
        """Apply one event from the broker port (the port's sink; drills may interpose here)."""
        self.session.observe(event)  # a modify's refusal, for whoever awaits that modify
        self.router.deliver(event)
        self.margin.observe(event)

    # --- commands ---------------------------------------------------------------------------

    async def propose(self, intent: Intent, source: str = "api") -> ProposalResult:
        """Record an intent durably, run the checks, and offer it for approval."""
        return await self.order_path.propose(intent, source)

    def can_approve(self, intent_id: str) -> CommandResult:
        """Whether approve would be accepted now (for greying out the key), and why not."""
        return self.order_path.can_approve(intent_id)

    async def approve(self, intent_id: str, token: str, actor: str = "trader") -> CommandResult:
        """Redeem the token, re-check, write ahead, send (a replacement cancels first); then a
        style works the order. `actor` is named in the TOKEN_USED bead."""
        result = await self.manual.approve(intent_id, token, actor)
        rec = self.book.records.get(intent_id)
        if result.ok and rec is not None:
            self.styles.start(rec)
        return result

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult:
        return await self.order_path.reject(intent_id, reason)

    # --- the trader's ticket ------------------------------------------------------------------

    async def lookup_contract(self, symbol: str) -> ContractLookup:
        """The broker's facts for a ticket's symbol (tick, size step, multiplier); watches it."""
        return await self.manual.lookup(symbol)

    def check_intent(self, intent: Intent) -> tuple[CheckOutcome, ...]:
        """Every pre-trade check on an intent now, nothing recorded (the ticket as typed)."""
        return self.manual.check(intent)

    async def propose_manual(self, intent: Intent, replaces: str | None = None) -> ProposalResult:
        """A ticket's intent (strategy `manual`) for approval; `replaces`: cancelled first."""
        return await self.manual.propose(intent, replaces)

    def replaces(self, intent_id: str) -> str | None:
        """The working order a pending intent would replace, if any."""
        return self.manual.replaces(intent_id)

    async def close_position(
        self, symbol: str, reason: str, actor: str = "trader"
    ) -> CommandResult:
        """Close one position: cancel its symbol's live orders, wait for the broker's answer,
        then one reducing MARKET order for what is still open."""
        return await self.safety.close_position(symbol, reason, actor)

    def reconnect_now(self) -> CommandResult:
        """Ask the broker adapter's reconnect loop to try now (never a second connect)."""
        return self.session.reconnect_now()

    async def cancel(self, intent_id: str, reason: str = "") -> CommandResult:
        """Cancel a working entry order; allowed while HALTED (it only reduces risk)."""
        return await self.order_path.cancel(intent_id, reason)

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult:
        """HALT: stop working styles, block new entries, cancel all, confirm with the broker."""
        self.styles.halt_all("halted: kill switch")
        return await self.kill_switch.kill(reason, actor)

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult:
        return await self.kill_switch.rearm(reason, actor)

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult:
        """Cancel working orders, wait for the broker's answer, then close every position still
        open with risk-reducing market orders."""
        return await self.safety.flatten(reason, actor)

    async def rollback(
        self,
        reason: str,
        actor: str = "trader",
        *,
        automatic: bool = False,
        timeout_s: float = 60.0,
    ) -> CommandResult:
        """Kill, cancel everything, flatten, then verify flat / no orders / NAV near the start."""
        return await self.safety.rollback(reason, actor, automatic=automatic, timeout_s=timeout_s)

    async def reconcile(self, reason: str) -> CommandResult:
        """Compare with the broker; raise drift, fix nothing."""
        return await self.reconciler.reconcile(reason)

    async def reconcile_now(self) -> CommandResult:
        """Compare with the broker now (the trader's `R`)."""
        return await self.reconciler.reconcile("manual")

    def request_reconcile(self, reason: str, delay_s: float = 1.0) -> None:
        """Reconcile soon (coalesced)."""
        self.reconciler.request(reason, delay_s)

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult:
        """The trader's decision on a drift; ENGINE_CORRECTED makes the engine adopt the broker."""
        return await self.reconciler.resolve_drift(drift_id, resolution, note, actor)

    def alert(
        self, level: AlertLevel, code: str, message: str, intent_id: str | None = None
    ) -> None:
        """Raise an alert (recorded, shown on the console)."""
        self.recorder.alert(level, code, message, intent_id)

    def force_transition(self, intent_id: str, trigger: Trigger) -> bool:
        """Apply a trigger by hand (tests, chaos drills): invalid ones are refused and recorded."""
        rec = self.book.records.get(intent_id)
        if rec is None:
            raise KeyError(intent_id)
        return self.recorder.transition(rec, trigger)

    def set_limit(
        self, key: str, value: str, reason: str = "", actor: str = "trader"
    ) -> CommandResult:
        """Change a risk limit now (loosening needs a reason); LIMIT bead; pending re-checked."""
        return self.risk.set_limit(key, value, reason, actor)

    async def watch_quote(self, instrument: Instrument, wait_s: float = 2.0) -> Quote | None:
        """Subscribe to an instrument's quotes (once) and wait briefly for a two-sided one."""
        return await self.session.watch_quote(instrument, wait_s)

    async def watch_bars(self, instrument: Instrument) -> bool:
        """Subscribe to 5-second bars (once), as `BarUpdated` on the bus; False: no bars."""
        return await self.session.watch_bars(instrument)

    # --- strategy runtime -------------------------------------------------------------------

    def record_strategy(self, record: Frozen) -> None:
        """Audit one strategy runtime record (decision, trade, learning change) as a bead."""
        self.recorder.emit(
            StrategyRecorded(**self.recorder.now_pair(), record=record.model_dump(mode="json"))
        )

    async def strategy_exit(self, intent_id: str, reason: str, text: str) -> CommandResult:
        """Close a bot trade (reducing only) under the audited exemption or an approval."""
        return await self.strategy_orders.strategy_exit(intent_id, reason, text)

    async def modify_stop(self, intent_id: str, stop_price: Decimal, text: str) -> CommandResult:
        """Move a bot trade's working stop leg, only ever tighter (broker-confirmed, audited)."""
        return await self.strategy_orders.modify_stop(intent_id, stop_price, text)

    def strategy_panel(self) -> StrategyPanelView | None:
        """The strategies panel's view from the bot among the intent sources (None without)."""
        panels = (getattr(source, "panel", None) for source in self._sources)
        return next((panel() for panel in panels if callable(panel)), None)

    def strategy_rows(self) -> list[tuple[str, str]]:
        """Every audited strategy record as (kind, payload), oldest first (restart restore)."""
        return [(r.kind, r.payload) for r in self.store.rows() if r.kind == "STRATEGY"]

    # --- go-live ----------------------------------------------------------------------------

    # gates and auto-approve policies: `engine.golive` (GoLive) directly

    def strategy_stage(self, strategy: str) -> Stage:
        return stage_of(self.book, strategy)

    def request_promotion(
        self, bundle: EvidenceBundle, requester: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        return self.golive.request_promotion(bundle, requester, to_stage)

    def approve_promotion(
        self, strategy: str, approver: str, tier: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        return self.golive.approve_promotion(strategy, approver, tier, to_stage)

    def promotion_ceremony(self) -> PromotionCeremony:
        """`deskgate promote`'s ceremony over this running engine (the promote screen)."""
        running = RunningEngine(self.book, self.recorder, self.golive)
        return PromotionCeremony(self.config, self.store, self.clock, running=running)

    def scale_tier(self) -> TierStatus | None:
        """The capital tier in force today (from `scale.go_live_date`); None when not live."""
        return self.risk.scale_tier()

    # --- observation ------------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        return self._view.take()

    def audit_page(self, top_seq: int | None, n: int) -> tuple[int, tuple[BeadView, ...]]:
        """(newest seq, at most n beads at or below `top_seq` (None: newest), newest first)."""
        return self._view.audit_page(top_seq, n)

    def pending_history(self) -> tuple[PendingOutcome, ...]:
        """Pending trades that ended unsent, oldest first, each with its reason."""
        return self.approvals.history()

    def pending_token(self, intent_id: str) -> str | None:
        """The token that approves a pending intent (for the console and auto-approve policies)."""
        waiting = self.approvals.pending(intent_id)
        return waiting.token if waiting else None

    def quote(self, symbol: str) -> Quote | None:
        return self.session.quote(symbol)

    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def tokens(self) -> TokenBook:
        return self.approvals.tokens

    @property
    def last_rollback(self) -> RollbackCompleted | None:
        """The most recent rollback's outcome (for the incident report)."""
        return self.safety.last_rollback
