"""Broker events applied to the lifecycle, and recovery of unfinished intents from broker truth."""

from __future__ import annotations

import logging
from decimal import Decimal

from contracts.broker import (
    AccountUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    BrokerNotice,
    CancelRejected,
    CommissionReported,
    ConnectivityChanged,
    DataFarmStatus,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    PacingViolation,
    PositionUpdated,
    QuoteUpdated,
    order_ref_for,
    parse_order_ref,
)
from contracts.enums import (
    AlertLevel,
    LifecycleState,
    OrderLeg,
    TradingState,
    Trigger,
)
from contracts.events import (
    CommissionRecorded,
    FillRecorded,
    OrderAcknowledged,
    OrderCancelConfirmed,
    OrderRejectedByBroker,
)
from engine import crashpoints
from engine.audit import AuditUnavailable
from engine.book import OrderRecord
from engine.bus import StateChanged
from engine.core import EngineCore
from engine.ports import BrokerUnavailable
from engine.risk import two_sided

log = logging.getLogger("deskgate.engine")


class BrokerEventsMixin(EngineCore):
    # --- broker events ---------------------------------------------------------------------------

    def _on_broker_event(self, event: BrokerEvent) -> None:
        try:
            self._dispatch(event)
        except AuditUnavailable as exc:
            log.error("broker event %s could not be recorded: %s", event.kind, exc)
        except Exception:  # a malformed broker message must never kill the engine
            log.exception("broker event %s could not be applied", event.kind)

    def _dispatch(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderAccepted | OrderFilled | OrderCancelled | OrderRejected):
            self._order_events += 1
        match event:
            case QuoteUpdated():
                self._quotes[event.quote.symbol] = event.quote
                self._quote_mono[event.quote.symbol] = self.clock.monotonic()
                if two_sided(event.quote):  # risk prices only against both sides
                    waiter = self._quote_waiters.pop(event.quote.symbol, None)
                    if waiter:
                        waiter.set()
                self.bus.publish(event)
            case OrderAccepted():
                self._on_accepted(event)
            case OrderFilled():
                self._on_fill(event)
                self.request_reconcile("fill")
            case CommissionReported():
                if event.exec_id in self.book.commissioned:
                    return  # re-reported by a resync: booked once
                self._emit(
                    CommissionRecorded(
                        ts_event=event.ts,
                        ts_init=self.clock.now(),
                        exec_id=event.exec_id,
                        commission=event.commission,
                        realized_pnl=event.realized_pnl,
                    )
                )
                self._check_automatic_triggers()
            case OrderCancelled():
                self._on_cancelled(event)
                self.request_reconcile("cancel")
            case OrderRejected():
                self._on_rejected(event)
                self.request_reconcile("reject")
            case CancelRejected() | ModifyRejected():
                self._alert(
                    AlertLevel.WARNING,
                    event.kind.upper(),
                    f"{event.order_ref}: {event.code} {event.reason}",
                )
            case PacingViolation():
                self._pacing_hits.append(self.clock.monotonic())
                self._alert(AlertLevel.WARNING, "PACING", event.message or "pacing violation")
                self._check_automatic_triggers()
            case BrokerConnected():
                self._connected = True
                self._account_id = event.account_id
                self._is_paper = event.is_paper
                self.bus.publish(StateChanged("connected"))
            case BrokerDisconnected():
                self._connected = False
                self._alert(
                    AlertLevel.CRITICAL, "DISCONNECTED", event.reason or "broker disconnected"
                )
                self._note_connection_failure()
            case ConnectivityChanged():
                self._connected = event.connected
                level = AlertLevel.INFO if event.connected else AlertLevel.CRITICAL
                self._alert(
                    level,
                    "CONNECTIVITY",
                    event.message or ("restored" if event.connected else "lost"),
                )
                if not event.connected:
                    self._note_connection_failure()
                else:
                    self._spawn(self._recover_after_connect(), "resync")
            case DataFarmStatus():
                self._farms[event.farm] = event.ok
                self.bus.publish(StateChanged("farm"))
            case AccountUpdated():
                self._account = event.account
                self._account_id = event.account.account_id
                self._nav.update(event.account.net_liquidation)
                self._check_automatic_triggers()
                self.bus.publish(StateChanged("account"))
            case PositionUpdated():
                self.bus.publish(StateChanged("position"))
            case BrokerNotice():
                self.bus.publish(StateChanged("notice"))

    def _record_for(self, order_ref: str) -> tuple[OrderRecord, OrderLeg] | None:
        parsed = parse_order_ref(order_ref)
        if parsed is None:
            self._alert(
                AlertLevel.WARNING,
                "FOREIGN_ORDER",
                f"order {order_ref!r} was not placed by deskgate",
            )
            return None
        intent_id, leg = parsed
        rec = self.book.records.get(intent_id)
        if rec is None:
            self._alert(
                AlertLevel.WARNING,
                "UNKNOWN_ORDER",
                f"broker reports {order_ref} for an unknown intent",
            )
            return None
        return rec, leg

    def _on_accepted(self, event: OrderAccepted) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg not in (OrderLeg.ENTRY, OrderLeg.FLATTEN) or rec.acked_at is not None:
            return
        self._emit(
            OrderAcknowledged(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=rec.intent.intent_id,
                order_ref=event.order_ref,
                perm_id=event.perm_id,
                broker_order_id=event.broker_order_id,
            )
        )
        self._sample("submit_to_ack", rec.submitted_at, rec.acked_at)
        if rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
            self._transition(rec, Trigger.ACK)
        crashpoints.hit("after_ack")

    def _on_fill(self, event: OrderFilled) -> None:
        if event.exec_id in self.book.seen_exec_ids:
            return
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        iid = rec.intent.intent_id
        crashpoints.hit("before_fill_recorded")
        self._emit(
            FillRecorded(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=iid,
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
                self._sample("ack_to_fill", rec.acked_at, rec.first_fill_at)
            complete = rec.entry_filled >= rec.requested
            self._transition(rec, Trigger.FILL if complete else Trigger.PARTIAL_FILL)
            self.store.flush()
            crashpoints.hit("after_fill" if complete else "after_partial_fill")
            if complete and leg is OrderLeg.FLATTEN:
                self._transition(rec, Trigger.EXIT_FILLED)
            elif complete and rec.has_exits and rec.state is LifecycleState.FILLED:
                self._transition(rec, Trigger.EXITS_WORKING)
        else:
            done = rec.exit_filled >= rec.entry_filled
            self._transition(rec, Trigger.EXIT_FILLED if done else Trigger.PARTIAL_FILL)
        self._check_automatic_triggers()

    def _on_cancelled(self, event: OrderCancelled) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            if rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                self._emit(
                    OrderCancelConfirmed(
                        ts_event=event.ts,
                        ts_init=self.clock.now(),
                        intent_id=rec.intent.intent_id,
                        order_ref=event.order_ref,
                        filled=event.filled,
                        reason=event.reason,
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)
        elif rec.state is LifecycleState.MANAGED and self._position_still_open(rec):
            self._transition(rec, Trigger.CANCEL_CONFIRMED)

    def _position_still_open(self, rec: OrderRecord) -> bool:
        """The exits have not closed the whole filled entry yet."""
        return rec.exit_filled < rec.entry_filled

    def _on_rejected(self, event: OrderRejected) -> None:
        found = self._record_for(event.order_ref)
        if found is None:
            return
        rec, leg = found
        iid = rec.intent.intent_id
        self._emit(
            OrderRejectedByBroker(
                ts_event=event.ts,
                ts_init=self.clock.now(),
                intent_id=iid,
                order_ref=event.order_ref,
                code=event.code,
                reason=event.reason,
            )
        )
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            self._transition(rec, Trigger.BROKER_REJECT)
        self._alert(AlertLevel.WARNING, "REJECTED", f"{iid}: {event.code} {event.reason}", iid)

    # --- recovery ------------------------------------------------------------------------------

    async def _recover_after_connect(self) -> None:
        """Match unfinished intents to broker orders by orderRef; never resend anything."""
        try:
            open_orders = await self.broker.open_orders()
            executions = await self.broker.executions()
        except BrokerUnavailable as exc:
            self._alert(AlertLevel.WARNING, "RESYNC_FAILED", str(exc))
            return
        for execution in executions:
            if execution.exec_id in self.book.seen_exec_ids:
                continue
            self._dispatch(
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
        self._resolve_write_ahead()
        for rec in list(self.book.records.values()):
            iid = rec.intent.intent_id
            if rec.state is LifecycleState.FILLED and rec.has_exits:
                exits = (
                    order_ref_for(iid, OrderLeg.STOP_LOSS),
                    order_ref_for(iid, OrderLeg.TAKE_PROFIT),
                )
                if any(ref in at_broker for ref in exits):
                    # Crashed between the fill and marking its bracket exits working.
                    self._transition(rec, Trigger.EXITS_WORKING)
            if rec.order_ref is None:
                continue
            broker_order = at_broker.get(rec.order_ref)
            if broker_order is not None:
                if rec.acked_at is None:
                    self._on_accepted(
                        OrderAccepted(
                            ts=self.clock.now(),
                            order_ref=rec.order_ref,
                            broker_order_id=broker_order.broker_order_id,
                            perm_id=broker_order.perm_id,
                        )
                    )
            elif rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                # Not working at the broker and not fully filled: it is gone. Never resend.
                self._alert(
                    AlertLevel.WARNING,
                    "NOT_AT_BROKER",
                    f"{rec.intent.intent_id}: not working at the broker after resync; closed",
                    rec.intent.intent_id,
                )
                self._emit(
                    OrderCancelConfirmed(
                        **self._now_pair(),
                        intent_id=rec.intent.intent_id,
                        order_ref=rec.order_ref,
                        filled=rec.entry_filled,
                        reason="not found at broker on resync",
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)
        if self.book.trading_state is TradingState.HALTED and not self.book.kill_confirmed:
            self._start_kill_confirmation(resend=True)
        if self._started:
            self.request_reconcile("reconnect", delay_s=0.0)
        self.bus.publish(StateChanged("resync"))

    def _resolve_write_ahead(self) -> None:
        """Settle intents a crash left APPROVED, from the audit store alone.

        Runs before the broker connects: the adapter delivers recovered acks and fills during
        `connect()`, and they must find the record SUBMITTED, not APPROVED.
        """
        for rec in list(self.book.live.values()):
            if rec.state is not LifecycleState.APPROVED:
                continue
            if rec.order_ref is None:
                # Approved but the write-ahead never committed: nothing left; close it out.
                self._transition(rec, Trigger.SUBMIT_FAILED)
            else:
                # The write-ahead committed: the order may have left. Broker truth decides.
                self._transition(rec, Trigger.SUBMIT)
