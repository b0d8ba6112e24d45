"""Order events from the broker applied to the lifecycle, and recovery of unfinished intents."""

from __future__ import annotations

import logging
from decimal import Decimal

from contracts.broker import (
    BrokerOrder,
    CancelRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    order_ref_for,
    parse_order_ref,
)
from contracts.enums import AlertLevel, LifecycleState, OrderLeg, TradingState, Trigger
from contracts.events import (
    FillRecorded,
    OrderAcknowledged,
    OrderCancelConfirmed,
    OrderRejectedByBroker,
)
from engine import crashpoints
from engine.audit import AuditUnavailable
from engine.book import FINAL_STATES, Book, IntentRecord
from engine.clock import Clock
from engine.fsm import CANCELLABLE
from engine.killswitch import KillSwitch
from engine.ports import BrokerUnavailable
from engine.recorder import EventRecorder
from engine.session import BrokerSession

log = logging.getLogger("deskgate.engine")


class ExecutionEvents:
    """Applies acks, fills, cancels and rejects to intent records; rebuilds after a reconnect.

    Never resends: an intent whose order is not at the broker after a resync is closed.
    """

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        kill_switch: KillSwitch,
        clock: Clock,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._kill_switch = kill_switch
        self._clock = clock
        self.applied = 0
        """Order acks, fills, cancels and rejects applied: a reconciliation spanning one retries."""

    def _record_for(self, order_ref: str) -> tuple[IntentRecord, OrderLeg] | None:
        parsed = parse_order_ref(order_ref)
        if parsed is None:
            self._recorder.alert(
                AlertLevel.WARNING,
                "FOREIGN_ORDER",
                f"order {order_ref!r} was not placed by deskgate",
            )
            return None
        intent_id, leg = parsed
        rec = self._book.records.get(intent_id)
        if rec is None:
            self._recorder.alert(
                AlertLevel.WARNING,
                "UNKNOWN_ORDER",
                f"broker reports {order_ref} for an unknown intent",
            )
            return None
        return rec, leg

    def on_accepted(self, event: OrderAccepted) -> None:
        self.applied += 1
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg not in (OrderLeg.ENTRY, OrderLeg.FLATTEN) or rec.acked_at is not None:
            return
        self._recorder.emit(
            OrderAcknowledged(
                ts_event=event.ts,
                ts_init=self._clock.now(),
                intent_id=rec.intent.intent_id,
                order_ref=event.order_ref,
                perm_id=event.perm_id,
                broker_order_id=event.broker_order_id,
            )
        )
        self._session.sample("submit_to_ack", rec.submitted_at, rec.acked_at)
        if rec.state in CANCELLABLE:
            self._recorder.transition(rec, Trigger.ACK)
        crashpoints.hit("after_ack")

    def on_fill(self, event: OrderFilled) -> None:
        self.applied += 1
        if event.exec_id in self._book.seen_exec_ids:
            return
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        after_cancel = rec.state is LifecycleState.CANCELLED
        crashpoints.hit("before_fill_recorded")
        self._recorder.emit(
            FillRecorded(
                ts_event=event.ts,
                ts_init=self._clock.now(),
                intent_id=rec.intent.intent_id,
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
                self._session.sample("ack_to_fill", rec.acked_at, rec.first_fill_at)
            complete = rec.entry_filled >= rec.requested
            self._recorder.transition(rec, Trigger.FILL if complete else Trigger.PARTIAL_FILL)
            try:
                self._recorder.store.flush()
            except AuditUnavailable as exc:  # queued: written when the store allows
                log.error("fill of %s not yet on disk: %s", rec.intent.intent_id, exc)
            crashpoints.hit("after_fill" if complete else "after_partial_fill")
            if after_cancel:
                self._fill_after_cancel(rec, event)
            elif complete and leg is OrderLeg.FLATTEN:
                self._recorder.transition(rec, Trigger.EXIT_FILLED)
            elif complete and rec.has_exits and rec.state is LifecycleState.FILLED:
                self._recorder.transition(rec, Trigger.EXITS_WORKING)
        else:
            done = rec.exit_filled >= rec.entry_filled
            self._recorder.transition(rec, Trigger.EXIT_FILLED if done else Trigger.PARTIAL_FILL)
        self._close_flattened(rec.intent.order.instrument.symbol)

    def _close_flattened(self, symbol: str) -> None:
        """A fill that left `symbol` flat closes its FILLED entries: their exits no longer work
        (a kill, a flatten or a close cancelled them, or they had none) and nothing of what
        they opened is still held. They left the live orders list only by closing."""
        if self._book.quantity_held(symbol):  # the fill was just booked: still held
            return
        for rec in list(self._book.live.values()):
            if rec.state is LifecycleState.FILLED and rec.intent.order.instrument.symbol == symbol:
                self._recorder.transition(rec, Trigger.EXIT_FILLED)

    def _fill_after_cancel(self, rec: IntentRecord, event: OrderFilled) -> None:
        """The cancel lost the race: the fill stands, but its exits went with the cancel, so the
        position is unprotected; the reconciliation that follows checks it against the broker."""
        iid = rec.intent.intent_id
        self._recorder.alert(
            AlertLevel.CRITICAL,
            "FILL_AFTER_CANCEL",
            f"{iid}: {event.quantity} filled after its cancel was confirmed; no exits working",
            iid,
        )

    def _note_cancel_answered(self, rec: IntentRecord) -> float | None:
        """Seconds the record spent in PENDING_CANCEL (None: no cancel of ours was pending)."""
        if rec.state is not LifecycleState.PENDING_CANCEL:
            return None
        waited = (self._clock.now() - rec.state_since).total_seconds()
        self._session.cancel_waits.append(waited)
        return waited

    def on_cancel_rejected(self, event: CancelRejected) -> float | None:
        """10147/10148: the cancel is answered at once; the order is still ours (a 10148 fill
        arrives as its own execution). Returns the seconds spent in PENDING_CANCEL."""
        found = self._record_for(event.order_ref)
        if found is None:
            return None
        rec, _ = found
        waited = self._note_cancel_answered(rec)
        if waited is not None:
            self._recorder.transition(rec, Trigger.CANCEL_REJECTED)
        return waited

    def on_cancelled(self, event: OrderCancelled) -> None:
        self.applied += 1
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            self._note_cancel_answered(rec)
            if rec.state in CANCELLABLE:
                self._record_cancel(rec, event)
                self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)
                if leg is OrderLeg.ENTRY and self._exits_stay(rec, event.filled):
                    # The remainder is cancelled; the bracket's exits stay at the broker for
                    # what filled (shrunk to it): the position is protected, as after a fill.
                    self._recorder.transition(rec, Trigger.EXITS_WORKING)
            return
        self._exit_cancelled(rec, leg, event)

    def _record_cancel(self, rec: IntentRecord, event: OrderCancelled) -> None:
        """The broker's cancel of one of `rec`'s orders (entry or exit, by orderRef), as a bead."""
        self._recorder.emit(
            OrderCancelConfirmed(
                ts_event=event.ts,
                ts_init=self._clock.now(),
                intent_id=rec.intent.intent_id,
                order_ref=event.order_ref,
                filled=event.filled,
                reason=event.reason,
            )
        )

    def record_exits_gone(self, rec: IntentRecord, legs: list[OrderLeg], reason: str) -> None:
        """Bracket exits found not at the broker (recovery, an adopted drift), each recorded
        gone as a CANCELLED bead naming its orderRef."""
        iid = rec.intent.intent_id
        for leg in legs:
            self._recorder.emit(
                OrderCancelConfirmed(
                    **self._recorder.now_pair(),
                    intent_id=iid,
                    order_ref=order_ref_for(iid, leg),
                    reason=reason,
                )
            )

    def _exits_stay(self, rec: IntentRecord, filled_at_cancel: Decimal) -> bool:
        """An entry cancelled after part of it filled, with a bracket exit the broker has not
        reported cancelled: that exit works for the filled part."""
        return max(rec.entry_filled, filled_at_cancel) > 0 and bool(rec.standing_exits)

    def _exit_cancelled(self, rec: IntentRecord, leg: OrderLeg, event: OrderCancelled) -> None:
        """The broker cancelled a bracket exit: recorded by leg (the Orders panel shows that leg
        cancelled, the reconciliation stops looking for it). While the position is open, the
        stop gone leaves it unprotected: FILLED again. A target gone while the stop still works
        leaves it MANAGED: protected, and nothing the broker lists is then drift."""
        if leg not in rec.standing_exits or rec.state in FINAL_STATES:
            return  # a stop filled and its OCA sibling went with it; or heard twice
        self._record_cancel(rec, event)
        if (
            rec.state is LifecycleState.MANAGED
            and rec.exit_filled < rec.entry_filled
            and not rec.protected
        ):
            self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)

    def on_rejected(self, event: OrderRejected) -> None:
        self.applied += 1
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        iid = rec.intent.intent_id
        self._recorder.emit(
            OrderRejectedByBroker(
                ts_event=event.ts,
                ts_init=self._clock.now(),
                intent_id=iid,
                order_ref=event.order_ref,
                code=event.code,
                reason=event.reason,
            )
        )
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            self._recorder.transition(rec, Trigger.BROKER_REJECT)
        self._recorder.alert(
            AlertLevel.WARNING, "REJECTED", f"{iid}: {event.code} {event.reason}", iid
        )

    # --- recovery ------------------------------------------------------------------------------

    async def recover(self) -> bool:
        """Match unfinished intents to broker orders by orderRef; never resend anything.

        Returns False when the broker could not be asked (alerted).
        """
        broker = self._session.broker
        try:
            open_orders = await broker.open_orders()
            executions = await broker.executions()
        except BrokerUnavailable as exc:
            self._recorder.alert(AlertLevel.WARNING, "RESYNC_FAILED", str(exc))
            return False
        for execution in executions:
            if execution.exec_id in self._book.seen_exec_ids:
                continue
            self.on_fill(
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
        self.resolve_write_ahead()
        for rec in list(self._book.records.values()):
            self._recover_record(rec, at_broker)
        if self._book.trading_state is TradingState.HALTED and not self._book.kill_confirmed:
            self._kill_switch.start_confirmation(resend=True)
        self._kill_switch.check_loss_triggers()
        self._recorder.changed("resync")
        return True

    def _recover_record(self, rec: IntentRecord, at_broker: dict[str, BrokerOrder]) -> None:
        iid = rec.intent.intent_id
        missing = rec.exits_missing(at_broker)
        exits_at_broker = any(leg not in missing for leg in rec.standing_exits)
        filled_then_cancelled = rec.state is LifecycleState.CANCELLED and rec.entry_filled > 0
        # FILLED with an exit recorded gone is where the exits' cancel left it, not a crash.
        filled_unmarked = rec.state is LifecycleState.FILLED and not rec.exits_gone
        if rec.has_exits and (filled_unmarked or filled_then_cancelled):
            if exits_at_broker:
                # Crashed between the fill (or a part fill's cancel) and marking its bracket
                # exits working: the broker works them.
                self._recorder.transition(rec, Trigger.EXITS_WORKING)
        elif rec.state is LifecycleState.MANAGED and not exits_at_broker:
            # The exits went while nobody listened (a DAY stop expired overnight, a cancel in
            # TWS during a disconnect; their fills were taken in above): nothing protects the
            # position now, and the screen must not say a stop works.
            self.record_exits_gone(rec, missing, "not at the broker on resync")
            self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)
            self._recorder.alert(
                AlertLevel.WARNING,
                "EXITS_GONE",
                f"{iid}: its stop and target are not at the broker after resync: "
                f"{rec.intent.order.instrument.symbol} position unprotected",
                iid,
            )
        if rec.order_ref is None:
            return
        broker_order = at_broker.get(rec.order_ref)
        if broker_order is not None:
            if rec.acked_at is None:
                self.on_accepted(
                    OrderAccepted(
                        ts=self._clock.now(),
                        order_ref=rec.order_ref,
                        broker_order_id=broker_order.broker_order_id,
                        perm_id=broker_order.perm_id,
                    )
                )
        elif rec.state in CANCELLABLE:
            # Not working at the broker and not fully filled: it is gone. Never resend.
            self._recorder.alert(
                AlertLevel.WARNING,
                "NOT_AT_BROKER",
                f"{iid}: not working at the broker after resync; closed",
                iid,
            )
            self._recorder.emit(
                OrderCancelConfirmed(
                    **self._recorder.now_pair(),
                    intent_id=iid,
                    order_ref=rec.order_ref,
                    filled=rec.entry_filled,
                    reason="not found at broker on resync",
                )
            )
            self._recorder.transition(rec, Trigger.CANCEL_CONFIRMED)

    def resolve_write_ahead(self) -> None:
        """Settle intents a crash left APPROVED, from the audit store alone.

        Runs before the broker connects: the adapter delivers recovered acks and fills during
        `connect()`, and they must find the record SUBMITTED, not APPROVED.
        """
        for rec in list(self._book.live.values()):
            if rec.state is not LifecycleState.APPROVED:
                continue
            if rec.order_ref is None:
                # Approved but the write-ahead never committed: nothing left; close it out.
                self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
            else:
                # The write-ahead committed: the order may have left. Broker truth decides.
                self._recorder.transition(rec, Trigger.SUBMIT)
