"""The engine side of execution styles: the StylePort over the order path, running styles, and
resuming them after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

from contracts.config import Config
from contracts.enums import AlertLevel, LifecycleState, Side, TradingState, Trigger
from contracts.events import AuditedEvent, OrderCancelConfirmed, OrderModified
from contracts.intent import Intent
from engine import crashpoints
from engine.book import Book, IntentRecord
from engine.clock import Clock
from engine.execution_styles import (
    ResumePoint,
    StyleProgress,
    StyleRunner,
    bounded,
    first_child_quantity,
)
from engine.instruments import InstrumentMaster
from engine.orders import OrderPath
from engine.ports import BrokerUnavailable
from engine.recorder import EventRecorder
from engine.session import BrokerSession
from engine.throttle import OutboundThrottle

log = logging.getLogger("deskgate.styles")

WORKING = (LifecycleState.SUBMITTED, LifecycleState.STALLED)
IN_FLIGHT = "stopped in flight"
NOT_RESUMED_HALTED = "not resumed after the restart: trading HALTED"


def is_patient(intent: Intent) -> bool:
    return intent.order.execution.kind != "immediate"


class StyleDesk:
    """Starts a StyleRunner for each approved patient order and is its StylePort: every modify
    is bounded by the approval, paced by the engine's throttle, audited, and never sent HALTED."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        order_path: OrderPath,
        throttle: OutboundThrottle,
        clock: Clock,
        config: Config,
        instruments: InstrumentMaster,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._order_path = order_path
        self._throttle = throttle
        self._clock = clock
        self._config = config
        self._instruments = instruments
        self.progress: dict[str, StyleProgress] = {}
        self._tasks: dict[str, asyncio.Task[StyleProgress]] = {}
        self._working_quantity: dict[str, Decimal] = {}
        self._replayed: dict[str, list[OrderModified]] = {}
        """intent_id -> its style steps read back from the audit store at start."""
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How runners wait between steps (tests drive time through it)."""

    # --- starting and stopping ---------------------------------------------------------------

    def start(self, rec: IntentRecord, resume: ResumePoint | None = None) -> None:
        """Work a sent patient order in its style (in the background), from `resume` if given."""
        intent = rec.intent
        iid = intent.intent_id
        if not is_patient(intent) or iid in self._tasks:
            return
        steps = self._order_path.contract_steps(intent)
        if steps is None:  # sent orders were resolved first; never work a style blind
            return
        tick, increment = steps
        runner = StyleRunner(
            iid,
            intent.order,
            tick=tick,
            size_increment=increment,
            port=self,
            sleep=self.sleep,
            resume=resume,
        )
        self._working_quantity[iid] = runner.progress.working_quantity
        self.progress[iid] = runner.progress
        task = asyncio.get_running_loop().create_task(self._run(runner), name=f"style-{iid}")
        self._tasks[iid] = task

    # --- resuming after a restart --------------------------------------------------------------

    def observe_replayed(self, event: AuditedEvent) -> None:
        """Keep the style steps the audit store holds (called for each replayed record)."""
        if isinstance(event, OrderModified):
            self._replayed.setdefault(event.intent_id, []).append(event)

    async def resume_after_restart(self) -> tuple[str, ...]:
        """Resume every patient style whose parent still works, from its audited steps and
        the broker's order, inside its approval and original window; HALTED resumes nothing.
        Returns the intents resumed."""
        replayed, self._replayed = self._replayed, {}
        waiting = [
            rec
            for rec in self._book.records.values()
            if is_patient(rec.intent)
            and rec.state in WORKING
            and rec.order_ref is not None
            and rec.intent.intent_id not in self._tasks
        ]
        if not waiting:
            return ()
        if self.halted():
            for rec in waiting:
                iid = rec.intent.intent_id
                self.progress[iid] = StyleProgress(
                    iid, rec.intent.order.execution.kind, done=True, outcome=NOT_RESUMED_HALTED
                )
            self._recorder.alert(
                AlertLevel.WARNING,
                "STYLE_NOT_RESUMED",
                f"{len(waiting)} execution style(s) not resumed: trading HALTED",
            )
            return ()
        at_broker = await self._broker_quantities()
        resumed = []
        for rec in waiting:
            iid = rec.intent.intent_id
            if not await self._resolved(rec):
                continue
            point = self._resume_point(rec, replayed.get(iid, []), at_broker)
            if point is None:
                continue
            self.start(rec, point)
            if iid in self._tasks:
                resumed.append(iid)
                self._recorder.alert(
                    AlertLevel.INFO,
                    "STYLE_RESUMED",
                    f"{iid}: {rec.intent.order.execution.kind} resumed at "
                    f"{point.elapsed_s:.0f}s, {point.working_quantity} of {rec.requested} "
                    f"working at {point.limit_price or rec.intent.order.limit_price}",
                    iid,
                )
        return tuple(resumed)

    async def _resolved(self, rec: IntentRecord) -> bool:
        """The contract's facts (for ticks and increments) and its quotes, as before the stop."""
        instrument = rec.intent.order.instrument
        resolution = await self._instruments.resolve(instrument)
        if not resolution.ok:
            self._recorder.alert(
                AlertLevel.WARNING,
                "STYLE_NOT_RESUMED",
                f"{rec.intent.intent_id}: contract not resolved: {resolution.detail}",
                rec.intent.intent_id,
            )
            return False
        await self._session.watch_quote(instrument, wait_s=0.0)
        return True

    async def _broker_quantities(self) -> dict[str, Decimal] | None:
        """order_ref -> quantity of each order open at the broker (None: could not ask)."""
        if not self._session.connected:
            return None
        try:
            orders = await self._session.broker.open_orders()
        except BrokerUnavailable:
            return None
        return {o.order_ref: o.quantity for o in orders}

    def _resume_point(
        self,
        rec: IntentRecord,
        beads: list[OrderModified],
        at_broker: dict[str, Decimal] | None,
    ) -> ResumePoint | None:
        """Where the style stood: audited steps inside the approval (others are ignored and
        alerted), and the broker's quantity when it could be asked; None when the broker
        holds more than the approval (alerted, not resumed)."""
        order = rec.intent.order
        iid = rec.intent.intent_id
        worst = order.execution.worst_price
        contract = self._order_path.contract_steps(rec.intent)
        working = first_child_quantity(order, contract[1] if contract else Decimal(1))
        limit: Decimal | None = None
        confirmed = 0
        for bead in beads:
            inside = (
                bead.order_ref == rec.order_ref
                and worst is not None
                and (
                    bead.limit_price is None
                    or bounded(order.side, bead.limit_price, worst) == bead.limit_price
                )
                and (bead.quantity is None or Decimal(0) < bead.quantity <= rec.requested)
            )
            if not inside:
                self._recorder.alert(
                    AlertLevel.WARNING,
                    "STYLE_RECORD_IGNORED",
                    f"{iid}: style step {bead.quantity}@{bead.limit_price} is outside "
                    f"the approval ({rec.requested} at worst {worst}): ignored",
                    iid,
                )
                continue
            if bead.confirmed:
                confirmed += 1
                limit = bead.limit_price or limit
            if bead.quantity is not None and (bead.confirmed or bead.reason.startswith(IN_FLIGHT)):
                working = max(working, bead.quantity)
        if at_broker is not None and rec.order_ref in at_broker:
            working = at_broker[rec.order_ref]
            if working > rec.requested:
                self._recorder.alert(
                    AlertLevel.CRITICAL,
                    "STYLE_NOT_RESUMED",
                    f"{iid}: broker order holds {working}, above the approved {rec.requested}",
                    iid,
                )
                return None
        origin = rec.submitted_at or rec.received_at
        elapsed = max(0.0, (self._clock.now() - origin).total_seconds())
        return ResumePoint(elapsed, limit, working, confirmed)

    async def _run(self, runner: StyleRunner) -> StyleProgress:
        iid = runner.intent_id
        try:
            progress = await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing style stops working; the order stays as it is
            log.exception("execution style of %s failed", iid)
            self._recorder.alert(
                AlertLevel.WARNING, "STYLE_FAILED", f"{iid}: style stopped: {exc}", iid
            )
            progress = runner.progress
            progress.done, progress.outcome = True, f"failed: {exc}"
        self._close_filled_child(iid)
        self._tasks.pop(iid, None)
        self._recorder.changed("style")
        return progress

    def _close_filled_child(self, iid: str) -> None:
        """A twap child filled in full before the parent: nothing works at the broker any more,
        so the parent closes with what filled (the rest was never sent)."""
        rec = self._book.records.get(iid)
        if rec is None or rec.state not in WORKING or rec.order_ref is None:
            return
        working = self._working_quantity.get(iid, rec.requested)
        if rec.entry_filled < working or rec.entry_filled >= rec.requested:
            return
        self._recorder.emit(
            OrderCancelConfirmed(
                **self._recorder.now_pair(),
                intent_id=iid,
                order_ref=rec.order_ref,
                filled=rec.entry_filled,
                reason="style ended: child filled in full, the rest never sent",
            )
        )
        self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)

    @property
    def working(self) -> tuple[str, ...]:
        """Intents whose style is still running."""
        return tuple(self._tasks)

    def halt_all(self, why: str) -> None:
        """Stop every working style now (the kill switch cancels the orders themselves)."""
        for iid, task in list(self._tasks.items()):
            task.cancel()
            progress = self.progress.get(iid)
            if progress is not None and not progress.done:
                progress.done, progress.outcome = True, why
                progress.history.append(why)
        self._tasks.clear()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self.halt_all("engine stopped")
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the StylePort --------------------------------------------------------------------------

    def halted(self) -> bool:
        return self._book.trading_state is TradingState.HALTED

    def entry_filled(self, intent_id: str) -> Decimal:
        rec = self._book.records.get(intent_id)
        return rec.entry_filled if rec else Decimal(0)

    def entry_working(self, intent_id: str) -> bool:
        rec = self._book.records.get(intent_id)
        if rec is None or rec.state not in WORKING:
            return False
        return rec.entry_filled < self._working_quantity.get(intent_id, rec.requested)

    def touch(self, symbol: str, side: Side) -> Decimal | None:
        quote = self._session.quote(symbol)
        if quote is None or quote.bid is None or quote.ask is None:
            return None
        age = self._clock.now() - quote.ts
        if age > timedelta(seconds=self._config.risk.quote_max_age_s):
            return None
        return quote.ask if side is Side.BUY else quote.bid

    async def cancel_entry(self, intent_id: str, reason: str) -> None:
        result = await self._order_path.cancel(intent_id, reason)
        if not result.ok:
            self._recorder.alert(
                AlertLevel.WARNING, "STYLE_CANCEL", f"{intent_id}: {result.message}", intent_id
            )

    async def modify_entry(
        self, intent_id: str, *, limit_price: Decimal, quantity: Decimal | None = None
    ) -> bool:
        rec = self._book.records.get(intent_id)
        if rec is None or rec.order_ref is None:
            return False
        why_not = self._refuse(rec, limit_price, quantity)
        if why_not is None:
            await self._throttle.acquire()
            why_not = self._refuse(rec, limit_price, quantity)  # the kill may come while queued
        if why_not is None:
            try:
                why_not = await self._send_modify(rec.order_ref, limit_price, quantity)
            except asyncio.CancelledError:  # the kill stopped the style mid-modify
                self._audit(rec, limit_price, quantity, f"{IN_FLIGHT}: broker answer unknown")
                raise
        self._audit(rec, limit_price, quantity, why_not)
        if why_not is None and quantity is not None:
            self._working_quantity[intent_id] = quantity
        if why_not is None:
            crashpoints.hit("style_step")
        return why_not is None

    def _audit(
        self, rec: IntentRecord, limit: Decimal, quantity: Decimal | None, why_not: str | None
    ) -> None:
        assert rec.order_ref is not None
        self._recorder.emit(
            OrderModified(
                **self._recorder.now_pair(),
                intent_id=rec.intent.intent_id,
                order_ref=rec.order_ref,
                quantity=quantity,
                limit_price=limit,
                confirmed=why_not is None,
                reason=why_not or "",
            )
        )

    def _refuse(self, rec: IntentRecord, limit: Decimal, quantity: Decimal | None) -> str | None:
        """Why this modify must not leave (HALTED, not working, outside the approval)."""
        order = rec.intent.order
        worst = order.execution.worst_price
        if self.halted():
            return "not sent: trading HALTED"
        if rec.state not in WORKING:
            return f"not sent: order is {rec.state}"
        if not self._session.connected:
            return "not sent: broker disconnected"
        if worst is None or bounded(order.side, limit, worst) != limit:
            return f"not sent: {limit} is past the approved worst price {worst}"
        if quantity is not None and not (rec.entry_filled <= quantity <= rec.requested):
            return f"not sent: quantity {quantity} outside the approved {rec.requested}"
        return None

    async def _send_modify(
        self, order_ref: str, limit: Decimal, quantity: Decimal | None
    ) -> str | None:
        return await self._session.modify(order_ref, quantity=quantity, limit_price=limit)
