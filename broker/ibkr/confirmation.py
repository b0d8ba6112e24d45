"""Confirming order state with the broker: after an error, after pacing, and on every resync.

ib_async marks an order Cancelled locally after any error, even a failed modify; nothing it
says on its own becomes an engine event. The broker's open orders, completed orders and
executions decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from ib_async import ExecutionFilter, Fill, Trade

from broker.ibkr import mapping
from broker.ibkr.link import IbLink
from broker.ibkr.mapping import ErrorCategory
from broker.ibkr.order_outcomes import OrderOutcomes
from broker.ibkr.orders import OrderBook, OrderRecord
from contracts.enums import BrokerOrderStatus
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

PACING_SETTLE_S = 1.2
"""After error 100, wait out TWS's one-second pacing window before confirming orders."""
CONFIRM_RETRY_S = (0.5, 5.0)
"""An unanswered confirm is asked again after this long, doubling up to the cap."""


@dataclass(frozen=True)
class SettleBasis:
    """What one confirm/resync round learnt from the broker."""

    open_keys: set[int]
    completed: dict[str, Trade] | None


class OrderConfirmation:
    """Re-fetches the broker's view of orders and settles the records it no longer lists."""

    def __init__(self, link: IbLink, book: OrderBook, outcomes: OrderOutcomes) -> None:
        self._link = link
        self._book = book
        self._outcomes = outcomes
        self._refs: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._open_orders_owed = False
        """An open-orders request timed out: its answer may still come (see `open_trades`)."""

    @property
    def busy(self) -> asyncio.Task[None] | None:
        """The confirmation round in flight, if any."""
        return self._task if self._task is not None and not self._task.done() else None

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def schedule(self, record: OrderRecord) -> None:
        """Re-fetch the broker's view of an order after an error (coalesced)."""
        self._refs.add(record.order_ref)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())

    def settle_after_pacing(self, code: int, message: str) -> None:
        """TWS drops messages over its rate limit, so orders in flight may never have arrived.

        Once the window has passed, confirm every unacknowledged order with the broker: TWS
        answers a connection's requests in order, so open orders asked for now list every order
        it received; one it does not list (and did not complete) was dropped, and is reported
        rejected rather than left waiting for an ack that will never come.
        """
        if not any(not r.accepted and not r.terminal for r in self._book.live()):
            return

        def confirm() -> None:
            # in flight when the window has passed, not when the error came: the pacer keeps
            # sending after TWS's error 100 is on its way, and TWS drops those too
            for record in self._book.live():
                if not record.accepted and not record.terminal:
                    record.last_error = record.last_error or (code, f"not placed: {message}")
                    self.schedule(record)

        asyncio.get_running_loop().call_later(PACING_SETTLE_S, confirm)

    async def open_trades(self, *, all_clients: bool = False) -> list[Trade]:
        """The broker's open orders now (this client's, or every client's); hold the sync lock.

        ib_async keys every open-orders request alike, so once one timed out the next would be
        answered by the late tail of the old one: a partial list that would settle working
        orders as gone. TWS answers a connection's requests in order, so after a timeout an
        executions request goes first (ib_async keys it by its own request id, so no other
        request can take its answer): once it is answered, the old answer has drained.
        """
        link = self._link
        try:
            if self._open_orders_owed:
                await self.request_executions()
                self._open_orders_owed = False
            factory = link.ib.reqAllOpenOrdersAsync if all_clients else link.ib.reqOpenOrdersAsync
            return await link.request(factory)
        except BrokerUnavailable:
            self._open_orders_owed = True
            raise

    async def resync_orders(self) -> None:
        """Open orders, executions, completed orders; the caller holds the sync lock.

        Fills that happened while away are delivered (deduped by exec id); orders that ended
        while away are settled from completed orders.
        """
        trades = await self.open_trades()
        open_keys = self._outcomes.apply_open_trades(trades)
        self._outcomes.recover_fills(await self.request_executions())
        completed = await self.completed_or_none()
        self._settle(
            [r for r in self._book.live() if id(r) not in open_keys],
            SettleBasis(open_keys, completed),
            after_reconnect=True,
        )

    async def request_executions(self) -> list[Fill]:
        account = self._link.account_id or ""
        return await self._link.request(
            lambda: self._link.ib.reqExecutionsAsync(ExecutionFilter(acctCode=account))
        )

    async def completed_or_none(self) -> dict[str, Trade] | None:
        """Completed orders by permId and orderRef; None if the broker did not answer."""
        try:
            trades = await self._link.request(lambda: self._link.ib.reqCompletedOrdersAsync(False))
        except BrokerUnavailable:
            if not self._link.ib.isConnected():
                raise
            log.warning("completed orders unavailable; settling from open orders only")
            return None
        by_key: dict[str, Trade] = {}
        for trade in trades:
            if trade.order.permId:
                by_key[f"perm:{trade.order.permId}"] = trade
            if trade.order.orderRef:
                by_key[f"ref:{trade.order.orderRef}"] = trade
        return by_key

    async def _loop(self) -> None:
        """Confirm the scheduled orders; an unanswered round is asked again while connected
        (only a lost connection leaves them to the resync, which confirms every order)."""
        retry_s, cap_s = CONFIRM_RETRY_S
        while self._refs:
            refs, self._refs = self._refs, set()
            records = [r for ref in refs if (r := self._book.by_ref(ref)) is not None]
            try:
                async with self._link.sync_lock:
                    await self._confirm(records)
            except BrokerUnavailable as exc:
                if not self._link.ib.isConnected():
                    log.warning("order confirm deferred to the resync: %s", exc)
                    return
                log.warning("order confirm unanswered, asking again in %.1fs: %s", retry_s, exc)
                self._refs |= {r.order_ref for r in records if not r.terminal}
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, cap_s)

    async def _confirm(self, records: list[OrderRecord]) -> None:
        trades = await self.open_trades()
        open_keys = self._outcomes.apply_open_trades(trades)
        for record in records:
            if id(record) in open_keys and record.last_error:
                code, reason = record.last_error
                if (
                    mapping.classify_error(code) is ErrorCategory.CANCEL_REJECTED
                    and record.status is not BrokerOrderStatus.PENDING_CANCEL
                ):
                    self._outcomes.cancel_rejected(record, code, reason)
                record.last_error = None
        missing = [r for r in records if id(r) not in open_keys and not r.terminal]
        if not missing:
            return
        self._outcomes.recover_fills(await self.request_executions())
        completed = await self.completed_or_none()
        self._settle(missing, SettleBasis(open_keys, completed), after_reconnect=False)
        for record in missing:
            record.last_error = None

    def _settle(
        self, missing: list[OrderRecord], basis: SettleBasis, *, after_reconnect: bool
    ) -> None:
        """Decide records the broker no longer lists as open, from completed orders."""
        out = self._outcomes
        for record in missing:
            if record.terminal:
                continue
            code, reason = record.last_error or (0, "")
            cancel_failed = bool(
                code and mapping.classify_error(code) is ErrorCategory.CANCEL_REJECTED
            )
            trade = None
            if basis.completed is not None:
                trade = basis.completed.get(f"perm:{record.perm_id}") or basis.completed.get(
                    f"ref:{record.order_ref}"
                )
            if trade is not None:
                self._settle_completed(record, trade, code, reason, cancel_failed=cancel_failed)
                continue
            if record.quantity > 0 and record.filled >= record.quantity:
                out.finish(record, BrokerOrderStatus.FILLED)
                continue
            certain = basis.completed is not None or record.last_error is not None
            when = "after reconnect" if after_reconnect else "after an order error"
            if not certain:
                self._link.notice(code, f"order state unknown {when}", record.order_ref)
            elif not record.accepted and not record.cancel_pending:
                out.rejected(record, code, reason or "the broker has no record of this order")
            elif record.cancel_pending and not cancel_failed:
                out.cancelled(record, reason or "cancelled (no longer listed by the broker)")
            elif cancel_failed:
                out.cancel_rejected(record, code, reason)
            else:
                self._link.notice(code, f"order state unknown {when}", record.order_ref)

    def _settle_completed(
        self, record: OrderRecord, trade: Trade, code: int, reason: str, *, cancel_failed: bool
    ) -> None:
        out = self._outcomes
        status = mapping.order_status(trade.orderStatus.status)
        if status is BrokerOrderStatus.FILLED:
            if record.filled >= record.quantity:
                out.finish(record, BrokerOrderStatus.FILLED)
            else:
                self._link.notice(code, "order filled but executions are missing", record.order_ref)
            if cancel_failed:
                out.cancel_rejected(record, code, reason)
        elif status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.REJECTED):
            if record.accepted or record.cancel_pending:
                out.cancelled(record, reason or "cancelled at the broker")
            else:
                out.rejected(record, code, reason or "refused by the broker")
        else:
            self._link.notice(code, "order listed as completed but not final", record.order_ref)
