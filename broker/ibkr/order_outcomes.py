"""What the broker said about deskgate's orders, turned into engine events (each exactly once)."""

from __future__ import annotations

import logging
from decimal import Decimal

from ib_async import CommissionReport, Fill, Trade

from broker.ibkr import convert, mapping
from broker.ibkr.link import IbLink
from broker.ibkr.orders import OrderBook, OrderRecord
from contracts.broker import (
    BrokerOrder,
    CancelRejected,
    CommissionReported,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
)
from contracts.enums import BrokerOrderStatus

log = logging.getLogger(__name__)

WORKING = frozenset(
    {
        BrokerOrderStatus.WORKING,
        BrokerOrderStatus.PENDING_SUBMIT,
        BrokerOrderStatus.PENDING_CANCEL,
    }
)


def open_status(trade: Trade) -> BrokerOrderStatus:
    """Status of an order the broker listed as open; ib_async-local states count as working."""
    local = bool(trade.log and trade.log[-1].errorCode)
    status = None if local else mapping.order_status(trade.orderStatus.status)
    if status is None or status is BrokerOrderStatus.PENDING_SUBMIT:
        return BrokerOrderStatus.WORKING
    return status


class OrderOutcomes:
    """Delivers accepted / filled / cancelled / rejected for the records of an `OrderBook`."""

    def __init__(self, link: IbLink, book: OrderBook, client_id: int) -> None:
        self._link = link
        self._book = book
        self._client_id = client_id

    def is_own(self, client_id: int, order_id: int) -> bool:
        """Placed by this API client (client 0 with an order id: the message did not say).

        TWS-typed orders carry client 0 and no order id; other API clients their own id.
        """
        return client_id == self._client_id or (client_id == 0 and order_id > 0)

    def broker_order(self, trade: Trade) -> BrokerOrder | None:
        """The port's view of a broker order; one deskgate did not place is labelled foreign."""
        converted = convert.trade_to_order(trade)
        if converted is None:
            return None
        order = trade.order
        if self.is_own(order.clientId, order.orderId) or self.record_for_trade(trade):
            return converted
        label = mapping.foreign_order_ref(order.clientId, converted.perm_id, order.orderRef)
        return converted.model_copy(update={"order_ref": label})

    def record_for_trade(self, trade: Trade, *, adopt: bool = False) -> OrderRecord | None:
        """The record of a broker order; `adopt` makes one for an own order known by ref."""
        order = trade.order
        perm_id = order.permId or trade.orderStatus.permId
        own = self.is_own(order.clientId, order.orderId)
        record = self._book.find(
            perm_id=perm_id,
            order_ref=order.orderRef if own else "",
            order_id=order.orderId if own else 0,
        )
        if record is None and adopt and own and order.orderRef:
            broker_order = convert.trade_to_order(trade)
            if broker_order is not None and order.orderId > 0:
                record = OrderRecord(
                    order_ref=order.orderRef,
                    order_id=order.orderId,
                    instrument=broker_order.instrument,
                    side=broker_order.side,
                    quantity=broker_order.quantity,
                    order_type=broker_order.order_type,
                    limit_price=broker_order.limit_price,
                    stop_price=broker_order.stop_price,
                    perm_id=perm_id,
                    filled=broker_order.filled,
                    accepted=True,
                )
                self._book.add(record)
                log.info("adopted working order %s (perm %d)", record.order_ref, perm_id)
        if record is not None:
            self._book.set_perm_id(record, perm_id)
            if own and order.orderId > 0:
                self._book.set_order_id(record, order.orderId)
        return record

    def apply_open_trades(self, trades: list[Trade]) -> set[int]:
        """Fold an open-orders answer into the records; returns ids of records seen open."""
        seen: set[int] = set()
        for trade in trades:
            record = self.record_for_trade(trade, adopt=True)
            if record is None:
                continue
            seen.add(id(record))
            status = open_status(trade)
            if status in WORKING:
                if record.terminal:
                    self._link.notice(
                        0,
                        "order reported final is still working at the broker",
                        record.order_ref,
                    )
                    continue
                record.status = status
                self.accept(record)
            elif status is BrokerOrderStatus.REJECTED:
                self._link.notice(0, "order inactive at the broker", record.order_ref)
        return seen

    def accept(self, record: OrderRecord) -> None:
        if record.accepted or record.terminal:
            return
        record.accepted = True
        self._link.emit(
            OrderAccepted(
                ts=self._link.clock.now(),
                order_ref=record.order_ref,
                broker_order_id=record.order_id,
                perm_id=record.perm_id,
            )
        )

    def finish(self, record: OrderRecord, status: BrokerOrderStatus) -> bool:
        """Mark a record final; False if it already was (the event must not be repeated)."""
        if record.terminal:
            return False
        record.terminal = True
        record.status = status
        record.cancel_pending = False
        return True

    def cancelled(self, record: OrderRecord, reason: str) -> None:
        if self.finish(record, BrokerOrderStatus.CANCELLED):
            self._link.emit(
                OrderCancelled(
                    ts=self._link.clock.now(),
                    order_ref=record.order_ref,
                    perm_id=record.perm_id,
                    filled=record.filled,
                    reason=reason,
                )
            )

    def rejected(self, record: OrderRecord, code: int, reason: str) -> None:
        if self.finish(record, BrokerOrderStatus.REJECTED):
            self._link.emit(
                OrderRejected(
                    ts=self._link.clock.now(), order_ref=record.order_ref, code=code, reason=reason
                )
            )

    def cancel_rejected(self, record: OrderRecord, code: int, reason: str) -> None:
        record.cancel_pending = False
        self._link.emit(
            CancelRejected(
                ts=self._link.clock.now(), order_ref=record.order_ref, code=code, reason=reason
            )
        )

    def recover_fills(self, fills: list[Fill]) -> None:
        for fill in sorted(fills, key=lambda f: (f.execution.time, f.execution.execId)):
            self.deliver_fill(fill, None)

    def deliver_fill(self, fill: Fill, trade: Trade | None) -> None:
        """One OrderFilled per execution id of the session's account (deduped)."""
        ex = fill.execution
        account_id = self._link.account_id
        if ex.acctNumber and account_id and ex.acctNumber != account_id:
            return
        quantity = mapping.to_decimal(ex.shares)
        price = mapping.to_price(ex.price)
        if not ex.execId or quantity is None or quantity <= 0 or price is None:
            return
        if not self._book.note_exec(ex.execId):
            return
        own = self.is_own(ex.clientId, ex.orderId)
        record = self._book.find(perm_id=ex.permId, order_ref=ex.orderRef if own else "")
        order_ref = ex.orderRef if own else ""
        if record is not None:
            order_ref = order_ref or record.order_ref
        elif not own:
            order_ref = mapping.foreign_order_ref(ex.clientId, ex.permId, ex.orderRef)
        cum = mapping.to_decimal(ex.cumQty)
        if cum is None or cum <= 0:
            cum = (record.filled if record is not None else Decimal(0)) + quantity
        if record is not None:
            self._book.set_perm_id(record, ex.permId)
            record.filled = max(record.filled, cum)
            remaining = record.remaining
            if not record.accepted and not record.terminal:
                self.accept(record)
        else:
            total = mapping.to_decimal(trade.order.totalQuantity) if trade is not None else None
            remaining = max(total - cum, Decimal(0)) if total is not None else Decimal(0)
        self._link.emit(
            OrderFilled(
                ts=self._link.clock.now(),
                order_ref=order_ref,
                perm_id=ex.permId,
                exec_id=ex.execId,
                side=mapping.side(ex.side),
                quantity=quantity,
                price=price,
                cum_quantity=cum,
                remaining=remaining,
            )
        )
        if record is not None and record.filled >= record.quantity:
            self.finish(record, BrokerOrderStatus.FILLED)
        report = fill.commissionReport
        if report is not None and report.execId == ex.execId:
            self.deliver_commission(report)

    def on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        if fill.execution.execId not in self._book.seen_exec_ids:
            return  # delivered with the fill when the fill is recovered
        self.deliver_commission(report)

    def deliver_commission(self, report: CommissionReport) -> None:
        commission = mapping.to_decimal(report.commission)
        if commission is None or not self._book.note_commission(report.execId):
            return
        pnl = mapping.to_decimal(report.realizedPNL)
        self._link.emit(
            CommissionReported(
                ts=self._link.clock.now(),
                exec_id=report.execId,
                commission=commission,
                currency=report.currency or "USD",
                realized_pnl=pnl if pnl else None,
            )
        )
