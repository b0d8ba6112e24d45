"""The engine's state and primitives shared by every part of it: audit-first emit, transitions."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.broker import (
    AccountSnapshot,
    BrokerEvent,
    OrderRequest,
    Quote,
)
from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    Mode,
    OrderLeg,
    TradingState,
    Trigger,
)
from contracts.events import (
    AlertRaised,
    AuditedEvent,
    ContractResolved,
    PositionBead,
    RollbackCompleted,
    TransitionRefused,
)
from contracts.intent import Intent
from engine.audit import AuditStore
from engine.book import Book, OrderRecord
from engine.bus import EventBus
from engine.clock import Clock, SystemClock
from engine.fsm import InvalidTransition, next_state
from engine.gates import GateResult
from engine.instruments import InstrumentMaster
from engine.intake import IntakeServer, StrategyPlugin
from engine.ports import BrokerPort
from engine.results import CommandResult, ProposalResult
from engine.risk import RiskContext
from engine.rollback import NavTracker
from engine.scale import TierStatus
from engine.throttle import OutboundThrottle
from engine.tokens import TokenBook
from engine.view import (
    BeadView,
)

log = logging.getLogger("deskgate.engine")

STATE_CONFLICT_FLAG = "STATE_CONFLICT"
TIMER_PERIOD_S = 0.5
FLUSH_PERIOD_S = 0.1
LATENCY_SAMPLES = 2000


class EngineCore:
    """State (a projection of the audit log) and the primitives every engine part uses."""

    if TYPE_CHECKING:
        # Implemented by the engine's parts (engine.py and its mixins); declared for typing.
        async def propose(self, intent: Intent, source: str = "api") -> ProposalResult: ...
        def _on_broker_event(self, event: BrokerEvent) -> None: ...
        def _request_for(self, intent: Intent, leg: OrderLeg = OrderLeg.ENTRY) -> OrderRequest: ...
        async def _send(
            self,
            rec: OrderRecord,
            request: OrderRequest,
            *,
            token_id: str | None,
            exempt: str | None = None,
        ) -> CommandResult: ...
        def _risk_context(self, intent: Intent) -> RiskContext: ...
        def scale_tier(self) -> TierStatus | None: ...
        def _set_trading_state(self, state: TradingState, reason: str, actor: str) -> None: ...
        def _start_kill_confirmation(self, *, resend: bool) -> None: ...
        def _check_automatic_triggers(self) -> None: ...
        def _note_connection_failure(self) -> None: ...
        def request_reconcile(self, reason: str, delay_s: float = 1.0) -> None: ...
        async def _recover_after_connect(self) -> None: ...

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
        self._quote_mono: dict[str, float] = {}
        """symbol -> monotonic time the latest quote arrived (a wall-clock step cannot age it)."""
        self.instruments = InstrumentMaster(
            broker,
            lambda query, facts: self._emit(
                ContractResolved(**self._now_pair(), query=query, facts=facts)
            ),
        )
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

    def _sample(self, stage: str, start: Any, end: Any) -> None:
        if start is None or end is None:
            return
        self._latency[stage].append((end - start).total_seconds() * 1000.0)
