"""Orders side of the adapter: place, cancel, list, and the ib_async order event handlers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal

from ib_async import Fill, Trade

from broker.ibkr import convert, mapping
from broker.ibkr.confirmation import OrderConfirmation
from broker.ibkr.link import IbLink
from broker.ibkr.mapping import ErrorCategory
from broker.ibkr.order_outcomes import WORKING, OrderOutcomes, open_status
from broker.ibkr.orders import OrderBook, OrderRecord
from contracts.broker import BrokerExecution, BrokerOrder, ModifyRejected, OrderRequest
from contracts.enums import BrokerOrderStatus
from contracts.market import MarginPreview
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

ModifyTarget = tuple[Decimal, Decimal | None, Decimal | None]
"""quantity, limit price, stop price a modify asks for."""


class OrderFlow:
    """Sends deskgate's orders and cancels, and turns the broker's answers into records."""

    def __init__(
        self,
        link: IbLink,
        book: OrderBook,
        outcomes: OrderOutcomes,
        confirmation: OrderConfirmation,
    ) -> None:
        self._link = link
        self._book = book
        self._outcomes = outcomes
        self._confirmation = confirmation
        self._submitting: set[str] = set()
        self._global_cancel_pending = False
        self._global_cancels = 0
        """cancel_all calls so far: a submit queued across one is dropped, not sent."""
        self._modifies: dict[str, tuple[asyncio.Future[bool], ModifyTarget]] = {}
        """Modifies in flight by orderRef: the answer, and the values asked for."""

    async def submit(self, order: OrderRequest) -> None:
        """Place one order (a bracket when stop_loss/take_profit are set).

        Raises:
            BrokerUnavailable: not connected / resync not finished: new orders are blocked.
            ValueError: this order_ref was already placed (never resubmitted).
        """
        link = self._link
        link.require_orders_allowed()
        ref = order.order_ref
        if self._book.by_ref(ref) is not None or ref in self._submitting:
            raise ValueError(f"order_ref {ref!r} was already placed; never resubmitted")
        legs_needed = convert.legs_needed(order)
        self._submitting.add(ref)
        cancels_before = self._global_cancels
        try:
            await link.pacer.acquire(legs_needed)
            link.require_orders_allowed()
            if self._global_cancels != cancels_before:
                # cancel_all came while this order waited for a send slot: it never leaves.
                raise BrokerUnavailable("global cancel requested while queued: order not sent")
            assert link.account_id is not None
            ids = [link.ib.client.getReqId() for _ in range(legs_needed)]
            legs = convert.request_to_orders(order, ids, link.account_id)
            contract = convert.instrument_to_contract(order.instrument)
            for leg in legs:
                if self._book.by_ref(leg.order_ref) is not None:
                    raise ValueError(f"order_ref {leg.order_ref!r} was already placed")
            for leg in legs:
                self._book.add(
                    OrderRecord(
                        order_ref=leg.order_ref,
                        order_id=leg.order.orderId,
                        instrument=order.instrument,
                        side=leg.spec.side,
                        quantity=leg.spec.quantity,
                        order_type=leg.spec.order_type,
                        limit_price=leg.spec.limit_price,
                        stop_price=leg.spec.stop_price,
                        parent_ref=leg.spec.parent_ref,
                    )
                )
            for leg in legs:
                link.ib.placeOrder(contract, leg.order)
        except ConnectionError as exc:
            raise BrokerUnavailable(f"connection lost while sending: {exc}") from None
        finally:
            self._submitting.discard(ref)
        log.info("submitted %s (%d leg(s))", ref, legs_needed)

    async def cancel(self, order_ref: str) -> None:
        """Cancel one order; while disconnected the cancel is kept and sent after the resync.

        Raises:
            ValueError: unknown order_ref.
        """
        record = self._book.by_ref(order_ref)
        if record is None:
            raise ValueError(f"unknown order_ref {order_ref!r}")
        if record.terminal:
            log.info("cancel %s: already final", order_ref)
            return
        record.cancel_pending = True
        await self.send_cancel(record)

    async def cancel_all(self) -> None:
        """reqGlobalCancel: every working order of the account; re-sent after a reconnect."""
        for record in self._book.live():
            record.cancel_pending = True
        self._global_cancel_pending = True
        self._global_cancels += 1
        if not self._link.can_send():
            log.warning("cancel_all while disconnected: kept, sent after the resync")
            return
        await self._link.pacer.acquire(1, urgent=True)
        if not self._link.can_send():
            return
        try:
            self._link.ib.reqGlobalCancel()
            self._global_cancel_pending = False
        except ConnectionError:
            log.warning("cancel_all: connection lost, sent after the resync")

    async def resend_cancels(self) -> None:
        """Re-send what a disconnect may have swallowed: the global cancel, then single cancels."""
        if self._global_cancel_pending:
            await self._link.pacer.acquire(1, urgent=True)
            self._link.ib.reqGlobalCancel()
            self._global_cancel_pending = False
        for record in self._book.pending_cancels():
            await self.send_cancel(record, force=True)

    async def send_cancel(self, record: OrderRecord, *, force: bool = False) -> None:
        link = self._link
        if not link.can_send():
            log.warning("cancel %s kept: not connected, sent after the resync", record.order_ref)
            return
        await link.pacer.acquire(1, urgent=True)
        if record.terminal or not link.can_send():
            return
        try:
            link.ib.client.cancelOrder(record.order_id, "")
        except ConnectionError:
            log.warning("cancel %s kept: connection lost", record.order_ref)
            return
        log.info("cancel sent for %s%s", record.order_ref, " (re-sent)" if force else "")

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Change a working order in place; returns once the broker shows the new values.

        A refusal (104/105/110/321 on a working order) arrives as ModifyRejected and leaves
        the order as it was; this call then returns too.

        Raises:
            ValueError: unknown or finished order, or nothing to change.
            BrokerUnavailable: not connected, or the broker did not answer in time.
        """
        record = self._book.by_ref(order_ref)
        if record is None:
            raise ValueError(f"unknown order_ref {order_ref!r}")
        if quantity is None and limit_price is None and stop_price is None:
            raise ValueError("modify needs a quantity, limit_price or stop_price")
        for name, value in (("quantity", quantity), ("limit_price", limit_price),
                            ("stop_price", stop_price)):  # fmt: skip
            if value is not None and not (value.is_finite() and value > 0):
                raise ValueError(f"modify {name} must be a positive number, got {value}")
        if record.terminal or record.cancel_pending:
            raise ValueError(f"order {order_ref} is not working")
        link = self._link
        link.require_orders_allowed()
        trade = self._working_trade(record)
        want = (
            quantity if quantity is not None else record.quantity,
            limit_price if limit_price is not None else record.limit_price,
            stop_price if stop_price is not None else record.stop_price,
        )
        changed = dataclasses.replace(trade.order, totalQuantity=float(want[0]), transmit=True)
        if want[1] is not None:
            changed.lmtPrice = float(want[1])
        if want[2] is not None:
            changed.auxPrice = float(want[2])
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._modifies[order_ref] = (answer, want)
        try:
            await link.pacer.acquire(1)
            link.require_orders_allowed()
            link.ib.placeOrder(trade.contract, changed)
            confirmed = await asyncio.wait_for(answer, link.request_timeout_s)
        except TimeoutError:
            self._confirmation.schedule(record)
            raise BrokerUnavailable(f"modify of {order_ref} not confirmed in time") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"connection lost while modifying: {exc}") from None
        finally:
            self._modifies.pop(order_ref, None)
        if confirmed:
            record.quantity, record.limit_price, record.stop_price = want
            log.info("modify of %s confirmed", order_ref)

    def _working_trade(self, record: OrderRecord) -> Trade:
        for trade in self._link.ib.openTrades():
            order = trade.order
            if order.orderId == record.order_id and self._outcomes.is_own(
                order.clientId, order.orderId
            ):
                return trade
        raise BrokerUnavailable(f"order {record.order_ref} is not open in this session yet")

    def _modify_answered(self, trade: Trade, record: OrderRecord) -> None:
        pending = self._modifies.get(record.order_ref)
        if pending is None or pending[0].done():
            return
        quantity, limit_price, stop_price = pending[1]
        order = trade.order
        shown = (
            mapping.to_decimal(order.totalQuantity),
            mapping.to_price(order.lmtPrice) if limit_price is not None else None,
            mapping.to_price(order.auxPrice) if stop_price is not None else None,
        )
        if shown == (quantity, limit_price, stop_price):
            pending[0].set_result(True)

    async def what_if(self, order: OrderRequest) -> MarginPreview:
        """IB's whatIf for the entry: margin change, equity with loan after, commission.

        Raises:
            BrokerUnavailable: not connected, or TWS gave no preview for this order.
        """
        link = self._link
        link.require_socket()
        contract = convert.instrument_to_contract(order.instrument)
        entry = convert.preview_order(order, link.account_id or "")
        state = await link.request(
            lambda: link.ib.whatIfOrderAsync(contract, entry), background=True
        )
        preview = convert.order_state_to_preview(state) if state else None
        if preview is None:
            raise BrokerUnavailable(f"no what-if preview for {order.order_ref}")
        return preview

    # --- reads ---------------------------------------------------------------------------------

    async def open_orders(self) -> list[BrokerOrder]:
        """Every working order of the account now, whoever placed it (reqAllOpenOrders).

        Orders of other API clients or typed in TWS carry a foreign orderRef
        (`mapping.foreign_order_ref`): reconciliation shows them as drift, and a kill is
        confirmed only once none of them is working either.
        """
        link = self._link
        link.require_socket()
        async with link.sync_lock:
            trades = await self._confirmation.open_trades(all_clients=True)
            self._outcomes.apply_open_trades(trades)
        account = link.account_id
        result: dict[int, BrokerOrder] = {}
        for trade in trades:
            status = open_status(trade)
            if status not in WORKING or (account and trade.order.account not in ("", account)):
                continue
            broker_order = self._outcomes.broker_order(trade)
            if broker_order is not None:
                result[broker_order.perm_id or -len(result) - 1] = broker_order.model_copy(
                    update={"status": status}
                )
        return list(result.values())

    async def completed_orders(self) -> list[BrokerOrder]:
        """Today's finished orders (reqCompletedOrders)."""
        link = self._link
        link.require_socket()
        async with link.sync_lock:
            trades = await link.request(lambda: link.ib.reqCompletedOrdersAsync(False))
        orders = (convert.trade_to_order(t) for t in trades)
        return [o for o in orders if o is not None]

    async def executions(self) -> list[BrokerExecution]:
        """Today's fills of the account (reqExecutions)."""
        self._link.require_socket()
        async with self._link.sync_lock:
            fills = await self._confirmation.request_executions()
        execs = (convert.fill_to_execution(f) for f in fills)
        return [e for e in execs if e is not None]

    # --- ib_async event handlers (synchronous) -------------------------------------------------

    def on_order_status(self, trade: Trade) -> None:
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's local state after an error: confirmed with the broker instead
        status = mapping.order_status(trade.orderStatus.status)
        if status is None:
            return
        record = self._outcomes.record_for_trade(trade)
        if record is None:
            return
        out = self._outcomes
        filled = mapping.to_decimal(trade.orderStatus.filled)
        if filled is not None and filled > record.filled and status is BrokerOrderStatus.CANCELLED:
            record.filled = filled
        if record.terminal:
            return
        if status in (BrokerOrderStatus.WORKING, BrokerOrderStatus.PENDING_CANCEL):
            record.status = status
            out.accept(record)
        elif status is BrokerOrderStatus.CANCELLED:
            if record.accepted or record.cancel_pending:
                out.cancelled(record, "cancelled")
            else:
                # never acknowledged: a rejection in disguise until the broker says otherwise
                self._confirmation.schedule(record)
        elif status is BrokerOrderStatus.FILLED:
            record.status = status
            if record.filled >= record.quantity:
                out.finish(record, BrokerOrderStatus.FILLED)
        elif status is BrokerOrderStatus.REJECTED:  # Inactive
            self._confirmation.schedule(record)

    def on_open_order(self, trade: Trade) -> None:
        record = self._outcomes.record_for_trade(trade)
        if record is not None:
            self._modify_answered(trade, record)

    def on_exec_details(self, trade: Trade, fill: Fill) -> None:
        self._outcomes.deliver_fill(fill, trade)

    def on_unknown_error(self, record: OrderRecord, code: int, message: str) -> None:
        """An unknown error on one of our orders: ib_async now says "Cancelled" locally."""
        self._link.notice(code, message, record.order_ref)
        record.last_error = (code, message)
        self._confirmation.schedule(record)

    def on_order_error(
        self, record: OrderRecord, category: ErrorCategory, code: int, message: str
    ) -> None:
        out = self._outcomes
        record.last_error = (code, message)
        if category is ErrorCategory.ORDER_REJECTED:
            out.rejected(record, code, message)
            self._confirmation.schedule(record)
            for child in self._book.children_of(record):
                if not child.terminal:
                    child.last_error = (code, f"parent order rejected: {message}")
                    self._confirmation.schedule(child)
        elif category is ErrorCategory.CANCELLED:
            out.cancelled(record, message)
        elif category is ErrorCategory.CANCEL_REJECTED:
            if record.status is BrokerOrderStatus.FILLED:
                out.cancel_rejected(record, code, message)  # the fill beat the cancel
            elif record.terminal:
                self._link.notice(code, message, record.order_ref)  # already cancelled/rejected
            else:
                self._confirmation.schedule(record)  # CancelRejected once the state is known
        elif category is ErrorCategory.MODIFY_REJECTED:
            pending = self._modifies.get(record.order_ref)
            if pending is not None and not pending[0].done():
                pending[0].set_result(False)
            self._link.emit(
                ModifyRejected(
                    ts=self._link.clock.now(), order_ref=record.order_ref, code=code, reason=message
                )
            )
            self._confirmation.schedule(record)
        else:  # PRECAUTIONARY
            self._link.notice(code, message, record.order_ref)
            self._confirmation.schedule(record)
