"""Reconciliation: compare the book with the broker, raise drift, and let the trader resolve it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from contracts.broker import (
    AccountSnapshot,
    BrokerOrder,
    BrokerPosition,
    parse_order_ref,
)
from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    BrokerOrderStatus,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    OrderLeg,
    TradingState,
    Trigger,
)
from contracts.events import (
    DriftDetected,
    DriftResolved,
    OrderCancelConfirmed,
    PositionCorrected,
    ReconciliationRun,
    new_event_id,
)
from engine.book import Book, IntentRecord
from engine.clock import Clock
from engine.execution import ExecutionEvents
from engine.killswitch import KillSwitch
from engine.ports import BrokerUnavailable
from engine.recorder import BackgroundTasks, EventRecorder
from engine.results import CommandResult
from engine.session import BrokerSession

OPEN_AT_BROKER = frozenset(
    {BrokerOrderStatus.PENDING_SUBMIT, BrokerOrderStatus.WORKING, BrokerOrderStatus.PENDING_CANCEL}
)
ENGINE_WORKING = frozenset(
    {LifecycleState.SUBMITTED, LifecycleState.STALLED, LifecycleState.PENDING_CANCEL}
)
EXIT_NAMES = {OrderLeg.STOP_LOSS: "stop", OrderLeg.TAKE_PROFIT: "target"}
PRICE_TOLERANCE = Decimal("0.005")
"""Average prices may differ by commission folded into the broker's average cost."""
PNL_TOLERANCE = Decimal("1.00")


@dataclass(frozen=True)
class Difference:
    drift_type: DriftType
    subject: str
    engine_state: dict[str, str]
    broker_state: dict[str, str]
    severity: DriftSeverity

    @property
    def key(self) -> tuple[str, str]:
        return (self.drift_type.value, self.subject)

    @property
    def fingerprint(self) -> tuple[str, str, str, str]:
        """Same key and same values on both sides: the same drift, seen again."""
        return (
            self.drift_type.value,
            self.subject,
            repr(sorted(self.engine_state.items())),
            repr(sorted(self.broker_state.items())),
        )


def compare(
    book: Book,
    positions: list[BrokerPosition],
    open_orders: list[BrokerOrder],
    account: AccountSnapshot | None = None,
) -> list[Difference]:
    """Every disagreement between the book and the broker, most severe first."""
    found: list[Difference] = []
    found += _positions(book, positions)
    found += _orders(book, open_orders)
    if account is not None and account.realized_pnl is not None:
        gross = book.realized_today + book.commissions_today
        diff = abs(gross - account.realized_pnl)
        if diff > PNL_TOLERANCE and diff > abs(account.realized_pnl) * Decimal("0.02"):
            found.append(
                Difference(
                    DriftType.PNL_MISMATCH,
                    "realized P&L",
                    {"realized": f"{gross:.2f}"},
                    {"realized": f"{account.realized_pnl:.2f}"},
                    DriftSeverity.LOW,
                )
            )
    order = {DriftSeverity.CRITICAL: 0, DriftSeverity.HIGH: 1, DriftSeverity.LOW: 2}
    return sorted(found, key=lambda d: order[d.severity])


def _positions(book: Book, positions: list[BrokerPosition]) -> list[Difference]:
    broker = {p.instrument.symbol: p for p in positions if p.quantity != 0}
    engine = {s: p for s, p in book.positions.items() if p.quantity != 0}
    out = []
    for symbol in sorted(set(broker) | set(engine)):
        b, e = broker.get(symbol), engine.get(symbol)
        bq = b.quantity if b else Decimal(0)
        eq = e.quantity if e else Decimal(0)
        if bq != eq:
            ratio = book.entry_fill_ratio.get(symbol)
            engine_state = {"quantity": str(eq)}
            if ratio is not None:
                engine_state["fill_ratio"] = f"{ratio * 100:.0f}%"
            out.append(
                Difference(
                    DriftType.POSITION_SIZE,
                    symbol,
                    engine_state,
                    {"quantity": str(bq)},
                    DriftSeverity.CRITICAL,
                )
            )
        elif b and e and e.avg_price and b.avg_cost:
            off = abs(b.avg_cost - e.avg_price) / e.avg_price
            if off > PRICE_TOLERANCE:
                out.append(
                    Difference(
                        DriftType.POSITION_SIZE,
                        symbol,
                        {"quantity": str(eq), "avg_price": f"{e.avg_price:.4f}"},
                        {"quantity": str(bq), "avg_price": f"{b.avg_cost:.4f}"},
                        DriftSeverity.LOW,
                    )
                )
    return out


def _orders(book: Book, open_orders: list[BrokerOrder]) -> list[Difference]:
    out = []
    at_broker = {o.order_ref: o for o in open_orders if o.status in OPEN_AT_BROKER}
    for ref, order in sorted(at_broker.items()):
        parsed = parse_order_ref(ref)
        rec = book.records.get(parsed[0]) if parsed else None
        if parsed is None or rec is None:
            out.append(
                Difference(
                    DriftType.FOREIGN_ORDER,
                    ref or f"perm:{order.perm_id}",
                    {"known": "no"},
                    _broker_order_state(order),
                    DriftSeverity.HIGH,
                )
            )
            continue
        _, leg = parsed
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            if rec.state not in ENGINE_WORKING:
                out.append(
                    Difference(
                        DriftType.STATUS_MISMATCH,
                        ref,
                        {"state": rec.state.value},
                        _broker_order_state(order),
                        DriftSeverity.HIGH,
                    )
                )
            elif order.filled != rec.entry_filled:
                out.append(
                    Difference(
                        DriftType.FILL_MISMATCH,
                        ref,
                        {
                            "filled": str(rec.entry_filled),
                            "ratio": _ratio(rec.entry_filled, rec.requested),
                        },
                        {
                            "filled": str(order.filled),
                            "ratio": _ratio(order.filled, order.quantity),
                        },
                        DriftSeverity.HIGH,
                    )
                )
        elif leg in rec.exits_gone or not _exits_may_work(rec):
            engine_side = {"state": rec.state.value}
            if leg in rec.exits_gone:
                engine_side["exit"] = "cancelled"  # recorded gone, yet the broker lists it
            out.append(
                Difference(
                    DriftType.STATUS_MISMATCH,
                    ref,
                    engine_side,
                    _broker_order_state(order),
                    DriftSeverity.HIGH,
                )
            )
    for rec in book.live.values():
        order_ref = rec.order_ref
        if (
            rec.state in ENGINE_WORKING
            and rec.acked_at is not None
            and order_ref
            and order_ref not in at_broker
        ):
            out.append(
                Difference(
                    DriftType.ORDER_MISSING_AT_BROKER,
                    order_ref,
                    {"state": rec.state.value, "filled": str(rec.entry_filled)},
                    {"status": "not working"},
                    DriftSeverity.HIGH,
                )
            )
        elif rec.state is LifecycleState.MANAGED and order_ref:
            missing = rec.exits_missing(at_broker)
            if missing:
                out.append(_exits_missing_difference(rec, order_ref, missing))
    return out


def _exits_missing_difference(
    rec: IntentRecord, order_ref: str, missing: list[OrderLeg]
) -> Difference:
    """A stop gone leaves the position unprotected (critical); a target gone, high."""
    open_qty = rec.entry_filled - rec.exit_filled
    return Difference(
        DriftType.EXIT_MISSING_AT_BROKER,
        order_ref,
        {
            "working": _names(rec.standing_exits),
            "position": f"{open_qty} {rec.intent.order.instrument.symbol}",
        },
        {"missing": _names(missing)},
        DriftSeverity.CRITICAL if OrderLeg.STOP_LOSS in missing else DriftSeverity.HIGH,
    )


def _names(legs: Iterable[OrderLeg]) -> str:
    return " and ".join(EXIT_NAMES[leg] for leg in legs)


def _exits_may_work(rec: IntentRecord) -> bool:
    """Bracket exits live at the broker from submission: held while the entry works,
    active once it filled, and kept (shrunk to the filled part) when a partial entry was
    cancelled."""
    if rec.state in ENGINE_WORKING or rec.state is LifecycleState.MANAGED:
        return True
    return rec.state is LifecycleState.CANCELLED and rec.entry_filled > 0


def _ratio(filled: Decimal, requested: Decimal) -> str:
    return f"{(filled / requested * 100):.0f}%" if requested else "-"


def _broker_order_state(order: BrokerOrder) -> dict[str, str]:
    return {
        "status": order.status.value,
        "side": order.side.value,
        "quantity": str(order.quantity),
        "filled": str(order.filled),
        "symbol": order.instrument.symbol,
    }


class Reconciler:
    """When reconciliation runs (rate-limited, coalesced), the drift it raises, and resolutions.

    It raises drift and moves the engine to REDUCING; it never fixes anything by itself.
    """

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        kill_switch: KillSwitch,
        execution: ExecutionEvents,
        tasks: BackgroundTasks,
        clock: Clock,
        config: Config,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._kill_switch = kill_switch
        self._execution = execution
        self._tasks = tasks
        self._clock = clock
        self._config = config
        self.enabled = False
        """Deferred reconciliations are scheduled only while the engine runs."""
        self._runs: deque[float] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._cancel_chased: dict[str, datetime] = {}
        """intent_id -> when its unanswered cancel was last chased with the broker."""

    async def run_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._config.reconcile.interval_s)
            if self._session.connected:
                await self.reconcile("periodic")

    def request(self, reason: str, delay_s: float = 1.0) -> None:
        """Reconcile soon (coalesced): after fills, rejects and cancels the broker settles first."""
        if self._timer is not None or not self.enabled:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timer = None
            self._tasks.spawn(self.reconcile(reason), "reconcile-soon")

        self._timer = loop.call_later(delay_s, fire)

    def chase_unanswered_cancels(self) -> None:
        """A cancel unanswered for `lifecycle.cancel_timeout_s`: re-query the broker (orders and
        executions, then a reconciliation); repeated every timeout while it stays unanswered."""
        timeout = self._config.lifecycle.cancel_timeout_s
        now = self._clock.now()
        due = []
        for rec in self._book.live.values():
            iid = rec.intent.intent_id
            if rec.state is not LifecycleState.PENDING_CANCEL:
                self._cancel_chased.pop(iid, None)
                continue
            last = self._cancel_chased.get(iid, rec.state_since)
            if (now - last).total_seconds() >= timeout:
                self._cancel_chased[iid] = now
                due.append(iid)
        if not due or not self._session.connected:
            return
        waited = max((now - self._book.records[i].state_since).total_seconds() for i in due)
        self._recorder.alert(
            AlertLevel.WARNING,
            "CANCEL_UNANSWERED",
            f"{', '.join(due)}: no answer to the cancel after {waited:.0f} s; asking the broker",
        )
        self._tasks.spawn(self._requery_cancels(), "cancel-requery")

    async def _requery_cancels(self) -> None:
        if await self._execution.recover():
            await self.reconcile("cancel timeout")

    def stop(self) -> None:
        self.enabled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def reconcile(self, reason: str) -> CommandResult:
        """Compare positions, fills and order status with the broker; raise drift, fix nothing."""
        if not self._session.connected:
            return CommandResult(False, "broker disconnected: cannot reconcile", "DISCONNECTED")
        mono = self._clock.monotonic()
        runs = self._runs
        while runs and mono - runs[0] >= 60:
            runs.popleft()
        if len(runs) >= self._config.reconcile.max_per_minute:
            self.request(reason, delay_s=max(0.1, 60 - (mono - runs[0])))
            return CommandResult(False, "reconciliation rate limit: deferred", "RATE_LIMITED")
        runs.append(mono)
        broker = self._session.broker
        generation = self._session.link_generation
        async with self._lock:
            seen = self._execution.applied
            try:
                positions = await broker.positions()
                open_orders = await broker.open_orders()
                account = await broker.account()
            except BrokerUnavailable as exc:
                return CommandResult(False, f"reconciliation failed: {exc}", "BROKER_UNAVAILABLE")
            if self._execution.applied != seen:
                # A fill or order update landed while the broker's answers were in flight: its
                # snapshot and the book are from different moments. Compare again shortly.
                self.request(reason, delay_s=0.2)
                return CommandResult(False, "order events arrived mid-comparison", "RETRY")
            differences = compare(self._book, positions, open_orders, account)
            raised = self._raise_drifts(differences)
            self._recorder.emit(
                ReconciliationRun(
                    **self._recorder.now_pair(),
                    reason=reason,
                    drifts=len(differences),
                    positions=len(positions),
                    open_orders=len(open_orders),
                )
            )
            self._session.mark_resynced(generation)
        self.update_reducing()
        self._recorder.changed("reconciled")
        if raised:
            return CommandResult(True, f"reconciled: {raised} new drift(s)", "DRIFT")
        if self._book.drifts:
            return CommandResult(True, f"reconciled: {len(self._book.drifts)} unresolved drift(s)")
        return CommandResult(True, "reconciled: engine and broker agree")

    def _raise_drifts(self, differences: list[Difference]) -> int:
        open_keys = {(d.drift_type.value, d.subject) for d in self._book.drifts.values()}
        raised = 0
        for diff in differences:
            if diff.fingerprint in self._book.accepted_drifts or diff.key in open_keys:
                continue
            self._recorder.emit(
                DriftDetected(
                    **self._recorder.now_pair(),
                    drift_id=new_event_id()[:12],
                    drift_type=diff.drift_type,
                    subject=diff.subject,
                    engine_state=diff.engine_state,
                    broker_state=diff.broker_state,
                    severity=diff.severity,
                )
            )
            open_keys.add(diff.key)
            raised += 1
            self._recorder.alert(
                AlertLevel.CRITICAL
                if diff.severity is DriftSeverity.CRITICAL
                else AlertLevel.WARNING,
                "DRIFT",
                f"{diff.drift_type} {diff.subject}: engine {_kv(diff.engine_state)}"
                f" / broker {_kv(diff.broker_state)}",
            )
        return raised

    def update_reducing(self) -> None:
        """Unresolved drift means REDUCING; when all are resolved, reconciliation lifts it."""
        state = self._book.trading_state
        if self._book.drifts and state is TradingState.ACTIVE:
            self._kill_switch.set_state(TradingState.REDUCING, "unresolved drift", "reconciliation")
        elif (
            not self._book.drifts
            and state is TradingState.REDUCING
            and self._book.trading_state_actor == "reconciliation"
        ):
            self._kill_switch.set_state(
                TradingState.ACTIVE, "all drifts resolved", "reconciliation"
            )

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult:
        """The trader's decision on a drift; ENGINE_CORRECTED makes the engine adopt the broker."""
        drift = self._book.drifts.get(drift_id)
        if drift is None:
            return CommandResult(False, f"no unresolved drift {drift_id}", "UNKNOWN_DRIFT")
        note = note.strip()
        if not note:
            return CommandResult(False, "a resolution needs a note", "NOTE_REQUIRED")
        if resolution is DriftResolution.ENGINE_CORRECTED:
            refused = await self._adopt_broker_view(drift)
            if refused is not None:
                return refused
        self._recorder.emit(
            DriftResolved(
                **self._recorder.now_pair(),
                drift_id=drift_id,
                resolution=resolution,
                note=note,
                actor=actor,
            )
        )
        self.update_reducing()
        if resolution is DriftResolution.BROKER_CORRECTED:
            self.request("after broker correction", delay_s=0.5)
        return CommandResult(True, f"drift {drift_id} {resolution}")

    async def _adopt_broker_view(self, drift: DriftDetected) -> CommandResult | None:
        """Make the book say what the broker says; a refusal when it cannot (nothing changed)."""
        if drift.drift_type is DriftType.EXIT_MISSING_AT_BROKER:
            return await self._adopt_exits_gone(drift)
        if drift.drift_type is DriftType.POSITION_SIZE:
            with contextlib.suppress(BrokerUnavailable):
                held = await self._session.broker.positions()
                pos = next((p for p in held if p.instrument.symbol == drift.subject), None)
                self._recorder.emit(
                    PositionCorrected(
                        **self._recorder.now_pair(),
                        symbol=drift.subject,
                        quantity=pos.quantity if pos else Decimal(0),
                        avg_price=pos.avg_cost if pos else Decimal(0),
                        drift_id=drift.drift_id,
                    )
                )
        elif drift.drift_type is DriftType.FILL_MISMATCH:
            if await self._execution.recover():
                self.request("reconnect", delay_s=0.0)
        elif drift.drift_type is DriftType.ORDER_MISSING_AT_BROKER:
            rec = self._book.record_for_ref(drift.subject)
            if rec is not None and rec.state in ENGINE_WORKING:
                self._recorder.emit(
                    OrderCancelConfirmed(
                        **self._recorder.now_pair(),
                        intent_id=rec.intent.intent_id,
                        order_ref=drift.subject,
                        filled=rec.entry_filled,
                        reason=f"engine corrected (drift {drift.drift_id})",
                    )
                )
                self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)
        return None

    async def _adopt_exits_gone(self, drift: DriftDetected) -> CommandResult | None:
        """Record each exit the broker no longer works as gone (the Orders panel then shows it
        cancelled). With the stop gone the entry is FILLED again, unprotected, as when the
        broker reports the stop cancelled (and as recovery does after a restart); a target gone
        while the stop still works leaves it MANAGED."""
        parsed = parse_order_ref(drift.subject)
        rec = self._book.records.get(parsed[0]) if parsed else None
        if rec is None or rec.state is not LifecycleState.MANAGED:
            return None  # closed or adopted meanwhile: nothing left to change
        try:
            open_orders = await self._session.broker.open_orders()
        except BrokerUnavailable as exc:
            return CommandResult(False, f"cannot ask the broker: {exc}", "BROKER_UNAVAILABLE")
        at_broker = {o.order_ref for o in open_orders if o.status in OPEN_AT_BROKER}
        missing = rec.exits_missing(at_broker)
        if not missing:
            return CommandResult(
                False, "the broker works every exit again: resolve it as broker fixed", "AGREES"
            )
        iid = rec.intent.intent_id
        self._execution.record_exits_gone(
            rec, missing, f"not at the broker: engine corrected (drift {drift.drift_id})"
        )
        working = rec.standing_exits
        gone = f"its {_names(missing)} {'are' if len(missing) > 1 else 'is'} not at the broker"
        symbol = rec.intent.order.instrument.symbol
        if rec.protected:
            self._recorder.alert(
                AlertLevel.WARNING,
                "EXITS_GONE",
                f"{iid}: {gone} (drift {drift.drift_id}); its stop still works there",
                iid,
            )
            return None
        self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)
        still = f"; its {_names(working)} still works there" if working else ""
        self._recorder.alert(
            AlertLevel.CRITICAL,
            "EXITS_GONE",
            f"{iid}: {gone} (drift {drift.drift_id}): {symbol} position unprotected{still}",
            iid,
        )
        return None


def _kv(state: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in state.items())
