"""The engine hooks of the strategy runtime: supervised stop moves and risk-reducing exits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from contracts.broker import order_ref_for
from contracts.config import Config
from contracts.enums import AlertLevel, OrderLeg, OrderType, Regime, Side, TradingState
from contracts.events import OrderModified, parse_event
from contracts.intent import Evidence, Intent, OrderParams
from engine.audit import AuditStore
from engine.book import EXITS_WORKING_STATES, Book, IntentRecord
from engine.instruments import InstrumentMaster
from engine.orders import OrderPath
from engine.recorder import EventRecorder
from engine.results import CommandResult
from engine.session import BrokerSession
from engine.strategy.records import EXIT_REASONS
from engine.throttle import OutboundThrottle

STRATEGY_SOURCE = "strategy"
"""The intake source of the bot's entries; only their stop legs are the bot's to move."""
EXIT_SOURCE = "strategy_exit"
"""The source of an exit proposed for approval (`[strategy].exits_need_approval`)."""


def tighter(entry_side: Side, new: Decimal, current: Decimal) -> bool:
    """Whether `new` is strictly closer to the market than `current` for a position opened on
    `entry_side` (a long's stop rises, a short's falls): only such a move reduces risk."""
    return new > current if entry_side is Side.BUY else new < current


class StrategyOrders:
    """`Engine.modify_stop` and `Engine.strategy_exit`: what the trade manager may do to a live
    bot trade without a new token, bounded so that it can only ever reduce risk.

    * A stop move is a broker modify of the working stop leg (the bracket's SL), only ever
      tighter than the stop in force (never widened), never while HALTED, audited as an
      ORDER_MODIFIED bead (`purpose` 'stop_move: ...') with the broker's answer.
    * An exit is the same stop leg moved through the market (to the touch on the far side), so
      it triggers at once: one order, still in its OCA group with the target, never a second
      order that could over-close, and never a moment without a stop. It goes out under the
      audited `strategy_exit` exemption (`purpose` 'strategy_exit:<reason>: ...'), only for
      the bot's own fully filled trades whose stop leg is no larger than the position it closes.
      With `[strategy].exits_need_approval` the exit is instead proposed as a risk-reducing
      market intent that needs the trader's token like any other.
    """

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        order_path: OrderPath,
        throttle: OutboundThrottle,
        store: AuditStore,
        instruments: InstrumentMaster,
        config: Callable[[], Config],
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._order_path = order_path
        self._throttle = throttle
        self._store = store
        self._instruments = instruments
        self._config = config
        self._stops: dict[str, Decimal] = {}
        """intent_id -> the stop in force, once a move was confirmed (else read from the store)."""

    # --- stop moves -----------------------------------------------------------------------------

    async def modify_stop(self, intent_id: str, stop_price: Decimal, text: str) -> CommandResult:
        """Move a bot trade's working stop to `stop_price` (only tighter), broker-confirmed."""
        return await self._move(intent_id, Decimal(stop_price), f"stop_move: {text}")

    def stop_in_force(self, rec: IntentRecord) -> Decimal | None:
        """The working stop of an intent: its last confirmed move, else the approved stop."""
        iid = rec.intent.intent_id
        if iid not in self._stops:
            stop = rec.intent.order.stop_loss
            for row in self._store.rows():
                if row.kind != "ORDER_MODIFIED":
                    continue
                event = parse_event(row.payload)
                if (
                    isinstance(event, OrderModified)
                    and event.intent_id == iid
                    and event.confirmed
                    and event.stop_price is not None
                ):
                    stop = event.stop_price
            if stop is None:
                return None
            self._stops[iid] = stop
        return self._stops[iid]

    def _why_not(self, rec: IntentRecord | None, stop: Decimal) -> str | None:
        """Why a move of this record's stop leg to `stop` must not leave."""
        if rec is None:
            return "not sent: no such intent"
        if rec.source != STRATEGY_SOURCE:
            return f"not sent: {rec.intent.intent_id} is not a strategy's trade"
        if self._book.trading_state is TradingState.HALTED:
            return "not sent: trading HALTED"
        if rec.state not in EXITS_WORKING_STATES:
            return f"not sent: {rec.intent.intent_id} is {rec.state}, no working stop leg"
        if not self._session.connected:
            return "not sent: broker disconnected"
        current = self.stop_in_force(rec)
        if current is None:
            return "not sent: the trade has no stop leg"
        if OrderLeg.STOP_LOSS in rec.exits_gone:
            return "not sent: its stop is no longer at the broker"
        if not stop.is_finite() or stop <= 0:
            return f"not sent: stop {stop} is not a price"
        steps = self._order_path.contract_steps(rec.intent)
        if steps is None:
            return "not sent: contract facts unknown"
        if stop % steps[0] != 0:
            return f"not sent: stop {stop} is not a multiple of the tick {steps[0]}"
        if not tighter(rec.intent.order.side, stop, current):
            return f"not sent: {stop} would widen (or keep) the stop {current}: risk never grows"
        return None

    async def _move(self, intent_id: str, stop: Decimal, purpose: str) -> CommandResult:
        rec = self._book.records.get(intent_id)
        if rec is not None:  # the tick check needs the contract (unknown after a restart)
            await self._instruments.resolve(rec.intent.order.instrument)
        why_not = self._why_not(rec, stop)
        if why_not is None:
            await self._throttle.acquire(urgent=True)
            why_not = self._why_not(rec, stop)  # the kill or a fill may come while queued
        if rec is None:
            return CommandResult(False, f"{intent_id}: {why_not}", "UNKNOWN_INTENT")
        ref = order_ref_for(intent_id, OrderLeg.STOP_LOSS)
        if why_not is None:
            try:
                why_not = await self._send(ref, stop)
            except asyncio.CancelledError:
                self._audit(rec, ref, stop, purpose, "stopped in flight: broker answer unknown")
                raise
        self._audit(rec, ref, stop, purpose, why_not)
        if why_not is not None:
            return CommandResult(False, f"{intent_id}: {why_not}", "MODIFY_REFUSED")
        self._stops[intent_id] = stop
        return CommandResult(True, f"{intent_id}: stop at {stop}")

    async def _send(self, order_ref: str, stop: Decimal) -> str | None:
        return await self._session.modify(order_ref, stop_price=stop)

    def _audit(
        self, rec: IntentRecord, ref: str, stop: Decimal, purpose: str, why_not: str | None
    ) -> None:
        self._recorder.emit(
            OrderModified(
                **self._recorder.now_pair(),
                intent_id=rec.intent.intent_id,
                order_ref=ref,
                stop_price=stop,
                confirmed=why_not is None,
                reason=why_not or "",
                purpose=purpose[:500],
            )
        )

    # --- exits ----------------------------------------------------------------------------------

    async def strategy_exit(self, intent_id: str, reason: str, text: str) -> CommandResult:
        """Close a bot trade now (reason from the fixed vocabulary), risk-reducing only."""
        if reason not in EXIT_REASONS:
            return CommandResult(
                False, f"exit reason {reason!r} is not one of {', '.join(EXIT_REASONS)}", "REASON"
            )
        rec = self._book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        closing = self._closing_quantity(rec)
        if isinstance(closing, str):
            self._recorder.alert(
                AlertLevel.WARNING, "STRATEGY_EXIT", f"{intent_id} exit refused: {closing}"
            )
            return CommandResult(False, f"{intent_id}: exit refused: {closing}", "NOT_REDUCING")
        if self._config().strategy.exits_need_approval or OrderLeg.STOP_LOSS in rec.exits_gone:
            # No stop leg left to move through the market: a closing order, for the trader.
            return await self._propose_exit(rec, closing, reason, text)
        stop = self._through_the_market(rec)
        if stop is None:
            why = "no fresh two-sided quote to price the exit against"
            self._recorder.alert(
                AlertLevel.WARNING, "STRATEGY_EXIT", f"{intent_id} exit not sent: {why}"
            )
            return CommandResult(False, f"{intent_id}: exit not sent: {why}", "NO_QUOTE")
        return await self._move(intent_id, stop, f"strategy_exit:{reason}: {text}")

    def _closing_quantity(self, rec: IntentRecord) -> Decimal | str:
        """What the exit would close, or why it would not only reduce risk."""
        if rec.source != STRATEGY_SOURCE:
            return "not a strategy's trade"
        if rec.state not in EXITS_WORKING_STATES:
            return f"the trade is {rec.state}: nothing open to exit"
        if rec.entry_filled < rec.requested:
            return (
                f"entry filled {rec.entry_filled} of {rec.requested}: the stop leg is larger "
                "than the position (close it by hand or flatten)"
            )
        open_qty = rec.entry_filled - rec.exit_filled
        side = 1 if rec.intent.order.side is Side.BUY else -1
        held = self._book.positions.get(rec.intent.order.instrument.symbol)
        position = held.quantity * side if held is not None else Decimal(0)
        if open_qty <= 0 or position < open_qty:
            return f"the position ({position} on the entry's side) is smaller than {open_qty}"
        return open_qty

    def _through_the_market(self, rec: IntentRecord) -> Decimal | None:
        """A stop price that triggers at once: a long's sell stop at or above the market, a
        short's buy stop at or below it, on the contract's tick."""
        quote = self._session.quote(rec.intent.order.instrument.symbol)
        steps = self._order_path.contract_steps(rec.intent)
        if quote is None or quote.bid is None or quote.ask is None or steps is None:
            return None
        age = self._recorder.clock.now() - quote.ts
        if age > timedelta(seconds=self._config().risk.quote_max_age_s):
            return None
        tick = steps[0]
        if rec.intent.order.side is Side.BUY:
            at = max(quote.ask, quote.last) if quote.last is not None else quote.ask
            return (at / tick).to_integral_value(ROUND_CEILING) * tick
        at = min(quote.bid, quote.last) if quote.last is not None else quote.bid
        return (at / tick).to_integral_value(ROUND_FLOOR) * tick

    async def _propose_exit(
        self, rec: IntentRecord, quantity: Decimal, reason: str, text: str
    ) -> CommandResult:
        o = rec.intent.order
        iid = rec.intent.intent_id
        intent = Intent(
            intent_id=f"x-{iid}"[:48],
            strategy=rec.intent.strategy,
            order=OrderParams(
                instrument=o.instrument,
                side=Side.SELL if o.side is Side.BUY else Side.BUY,
                quantity=quantity,
                order_type=OrderType.MARKET,
            ),
            state_hash=f"exit-{iid}"[:128],
            state_ts=self._recorder.now_pair()["ts_event"],
            regime=Regime.NORMAL,
            evidence=Evidence(
                setup_quality=0,
                htf_alignment=False,
                ltf_alignment=False,
                notes=f"exit ({reason}) of {iid}: {text}"[:2000],
            ),
            reduces_risk=True,
        )
        result = await self._order_path.propose(intent, EXIT_SOURCE)
        return CommandResult(result.accepted, result.message, "" if result.accepted else "DENIED")
