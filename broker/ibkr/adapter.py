"""`IbkrBroker`: the engine's broker port over ib_async (TWS / IB Gateway, or the gateway sim).

Every ib_async event is translated into a `contracts.broker` event and handed synchronously
to the sink. The adapter trusts only what the broker says: ib_async's local order states
(Cancelled after any error, PendingCancel on cancel) never become engine events; an order
error is confirmed by re-fetching open orders, completed orders and executions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from ib_async import (
    IB,
    AccountValue,
    CommissionReport,
    Contract,
    ExecutionFilter,
    Fill,
    Position,
    Trade,
)
from ib_async import Ticker as IbTicker

from broker.ibkr import convert, details, mapping
from broker.ibkr.account import AccountBook
from broker.ibkr.connection import ClientIdInUse, open_ib, redact_account_in_logs
from broker.ibkr.mapping import ErrorCategory
from broker.ibkr.orders import OrderBook, OrderRecord
from broker.ibkr.pacing import Pacer, ReconnectPolicy
from broker.ibkr.safety import (
    BrokerRefused,
    check_port,
    choose_account,
    is_paper_account,
    mask_account,
)
from contracts.broker import (
    AccountSnapshot,
    AccountUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    BrokerExecution,
    BrokerNotice,
    BrokerOrder,
    BrokerPosition,
    CancelRejected,
    CommissionReported,
    ConnectivityChanged,
    DataFarmStatus,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PacingViolation,
    PositionUpdated,
    Quote,
    QuoteUpdated,
)
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType
from contracts.intent import Instrument
from contracts.market import ContractFacts
from engine.clock import Clock, SystemClock
from engine.ports import BrokerUnavailable, EventSink

log = logging.getLogger(__name__)

T = TypeVar("T")
SleepFn = Callable[[float], Awaitable[None]]

_WORKING = frozenset(
    {
        BrokerOrderStatus.WORKING,
        BrokerOrderStatus.PENDING_SUBMIT,
        BrokerOrderStatus.PENDING_CANCEL,
    }
)


@dataclass(frozen=True)
class _Settled:
    """What one confirm/resync round learnt from the broker."""

    open_keys: set[int]
    completed: dict[str, Trade] | None


PACING_SETTLE_S = 1.2
"""After error 100, wait out TWS's one-second pacing window before confirming orders."""


class IbkrBroker:
    """The Interactive Brokers adapter (BrokerPort) on ib_async.

    Args:
        host: TWS / IB Gateway host.
        port: API port: 4002/7497 are paper; 4001/7496 (live) are refused unless
            `live_confirmed_account` is given.
        client_id: API client id (orders are bound to it across sessions).
        account: the account to trade when the login manages several (or to insist on).
        live_confirmed_account: the account id confirmed for live trading by the composition
            root (config mode = "live" + DESKGATE_LIVE_CONFIRM + typed at start-up); None for
            a paper session, which must see a DU account.
        connect_timeout_s: handshake timeout per attempt.
        request_timeout_s: timeout of each sync request (open orders, executions, ...).
        clock: wall/monotonic clock for event timestamps and the reconnect budget.
        sleep: how the reconnect loop waits (injectable for tests).
        reconnect: backoff policy (≤ 6 attempts a minute, long pause after 326).
        max_messages_per_second: outbound pacing, at most 45.
        market_data_type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.
        known_exec_ids: executions the engine has already applied (never re-delivered).
        heartbeat_s: ask TWS for the time this often; no answer within the same span means
            a dead link (half-open socket): drop it and reconnect. None disables it.
    """

    name = "ibkr"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4002,
        client_id: int = 1,
        *,
        account: str | None = None,
        live_confirmed_account: str | None = None,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 10.0,
        clock: Clock | None = None,
        sleep: SleepFn = asyncio.sleep,
        reconnect: ReconnectPolicy | None = None,
        max_messages_per_second: int = 40,
        market_data_type: int = 1,
        known_exec_ids: Iterable[str] = (),
        heartbeat_s: float | None = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self._wanted_account = account or None
        self._live_confirmed = live_confirmed_account or None
        self._connect_timeout = connect_timeout_s
        self._request_timeout = request_timeout_s
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = reconnect or ReconnectPolicy()
        self._pacer = Pacer.per_second(max_messages_per_second)
        self._market_data_type = market_data_type
        self._heartbeat_s = heartbeat_s
        self.heartbeats_answered = 0
        """Diagnostics: heartbeats TWS answered, and the last round trip in seconds."""
        self.heartbeat_rtt_s: float | None = None
        if self._live_confirmed:
            redact_account_in_logs(self._live_confirmed)

        self._sink: EventSink | None = None
        self._book = OrderBook()
        self._book.mark_seen(known_exec_ids)
        self._account_id: str | None = None
        self._account = AccountBook("")
        self._account_dirty = False
        self._account_streaming = False
        """The first full account download of the session is in: stream changes from now."""
        self._positions: dict[int, BrokerPosition] = {}
        self._quote_subs: dict[tuple[str, str, str, str], Instrument] = {}
        self._tickers: dict[int, tuple[IbTicker, str]] = {}
        self._con_ids: dict[tuple[str, str, str, str], int] = {}
        self._submitting: set[str] = set()
        self._global_cancel_pending = False
        self._global_cancels = 0
        """cancel_all calls so far: a submit queued across one is dropped, not sent."""

        self._session_up = False
        """A session was established and its loss not yet reported."""
        self._ready = False
        """The session finished its resync: orders may be sent."""
        self._link_ok = True
        """False between IB 1100 and the resync after 1101/1102."""
        self._closing = False
        self._sync_lock = asyncio.Lock()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._restore_task: asyncio.Task[None] | None = None
        self._confirm_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._down_reason: str | None = None
        self._confirm_refs: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

        self._ib = IB()
        ib = self._ib
        ib.orderStatusEvent += self._on_order_status
        ib.openOrderEvent += self._on_open_order
        ib.execDetailsEvent += self._on_exec_details
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.accountValueEvent += self._on_account_value
        ib.positionEvent += self._on_position
        ib.pendingTickersEvent += self._on_pending_tickers
        ib.updateEvent += self._flush_account

    # --- port: session -------------------------------------------------------------------

    def set_event_sink(self, sink: EventSink) -> None:
        self._sink = sink

    @property
    def connected(self) -> bool:
        """True while new orders can be sent (session up, resynced, IB link up)."""
        return self._ready and self._link_ok and self._ib.isConnected()

    @property
    def account_id(self) -> str | None:
        return self._account_id

    async def connect(self) -> None:
        """Connect, check port and account safety, and run the full sync.

        Raises:
            BrokerRefused: unsafe port or account (do not retry).
            BrokerUnavailable: cannot connect now (ClientIdInUse for 326).
        """
        if self.connected:
            return
        check_port(self.port, self._live_confirmed)
        self._closing = False
        wait = self._policy.window_delay(self._clock.monotonic())
        if wait > 0:
            raise BrokerUnavailable(
                f"too many connection attempts in the last minute; retry in {wait:.0f}s"
            )
        await self._open_session()

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting; idempotent."""
        self._closing = True
        for task in (
            self._reconnect_task,
            self._restore_task,
            self._confirm_task,
            self._heartbeat_task,
        ):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._ready = False
        if self._ib.client.isConnected() or self._ib.client.connState != 0:
            self._ib.disconnect()
        self._report_down("disconnect requested")

    # --- port: orders --------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> None:
        """Place one order (a bracket when stop_loss/take_profit are set).

        Raises:
            BrokerUnavailable: not connected / resync not finished: new orders are blocked.
            ValueError: this order_ref was already placed (never resubmitted).
        """
        self._require_connected()
        ref = order.order_ref
        if self._book.by_ref(ref) is not None or ref in self._submitting:
            raise ValueError(f"order_ref {ref!r} was already placed; never resubmitted")
        legs_needed = convert.legs_needed(order)
        self._submitting.add(ref)
        cancels_before = self._global_cancels
        try:
            await self._pacer.acquire(legs_needed)
            self._require_connected()
            if self._global_cancels != cancels_before:
                # cancel_all came while this order waited for a send slot: it never leaves.
                raise BrokerUnavailable("global cancel requested while queued: order not sent")
            assert self._account_id is not None
            ids = [self._ib.client.getReqId() for _ in range(legs_needed)]
            legs = convert.request_to_orders(order, ids, self._account_id)
            contract = convert.instrument_to_contract(order.instrument)
            for leg in legs:
                if self._book.by_ref(leg.order_ref) is not None:
                    raise ValueError(f"order_ref {leg.order_ref!r} was already placed")
            for leg in legs:
                record = _record_for(order, leg.leg, leg.order_ref, leg.order.orderId)
                if leg.order_ref != ref:
                    record.parent_ref = ref
                self._book.add(record)
            for leg in legs:
                self._ib.placeOrder(contract, leg.order)
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
        await self._send_cancel(record)

    async def cancel_all(self) -> None:
        """reqGlobalCancel: every working order of the account; re-sent after a reconnect."""
        for record in self._book.live():
            record.cancel_pending = True
        self._global_cancel_pending = True
        self._global_cancels += 1
        if not self._can_send():
            log.warning("cancel_all while disconnected: kept, sent after the resync")
            return
        await self._pacer.acquire(1, urgent=True)
        if not self._can_send():
            return
        try:
            self._ib.reqGlobalCancel()
            self._global_cancel_pending = False
        except ConnectionError:
            log.warning("cancel_all: connection lost, sent after the resync")

    async def open_orders(self) -> list[BrokerOrder]:
        """Working orders as the broker reports them now (reqOpenOrders)."""
        self._require_socket()
        async with self._sync_lock:
            trades = await self._request(self._ib.reqOpenOrdersAsync)
            self._apply_open_trades(trades)
        result: dict[int, BrokerOrder] = {}
        for trade in trades:
            status = _open_status(trade)
            if status not in _WORKING:
                continue
            broker_order = convert.trade_to_order(trade)
            if broker_order is not None:
                result[broker_order.perm_id or -len(result) - 1] = broker_order.model_copy(
                    update={"status": status}
                )
        return list(result.values())

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        """Every contract IB lists for the instrument (reqContractDetails); [] if none."""
        self._require_socket()
        query = details.details_query(instrument)
        found = await self._request(lambda: self._ib.reqContractDetailsAsync(query))
        return [f for d in found if (f := details.details_to_facts(d)) is not None]

    async def completed_orders(self) -> list[BrokerOrder]:
        """Today's finished orders (reqCompletedOrders)."""
        self._require_socket()
        async with self._sync_lock:
            trades = await self._request(lambda: self._ib.reqCompletedOrdersAsync(False))
        orders = (convert.trade_to_order(t) for t in trades)
        return [o for o in orders if o is not None]

    async def executions(self) -> list[BrokerExecution]:
        """Today's fills of the account (reqExecutions)."""
        self._require_socket()
        async with self._sync_lock:
            fills = await self._request_executions()
        execs = (convert.fill_to_execution(f) for f in fills)
        return [e for e in execs if e is not None]

    async def positions(self) -> list[BrokerPosition]:
        self._require_socket()
        async with self._sync_lock:
            positions = await self._request(self._ib.reqPositionsAsync)
        return self._our_positions(positions)

    async def account(self) -> AccountSnapshot:
        """The account snapshot kept live by the account-updates subscription."""
        self._require_socket()
        if not self._account.has_values:
            async with self._sync_lock:
                await self._request_account_updates()
        return self._account.snapshot(self._clock.now())

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        """Stream QuoteUpdated for `instrument` (kept across reconnects)."""
        key = _instrument_key(instrument)
        if key in self._quote_subs:
            return
        self._quote_subs[key] = instrument
        if self._ib.isConnected():
            await self._start_quote(instrument)

    async def quiesce(self) -> None:
        """Wait until no order confirmation or connectivity resync is in flight."""
        while True:
            busy = [
                t
                for t in (self._confirm_task, self._restore_task)
                if t is not None and not t.done()
            ]
            if not busy:
                return
            await asyncio.wait(busy)

    # --- session internals ---------------------------------------------------------------

    async def _open_session(self) -> None:
        """One connection attempt: connect, check the account, resync, then open for orders."""
        self._policy.record_attempt(self._clock.monotonic())
        self._ready = False
        await open_ib(
            self._ib,
            self.host,
            self.port,
            self.client_id,
            timeout_s=self._connect_timeout,
        )
        try:
            account = choose_account(
                self._ib.managedAccounts(), self._wanted_account, self._live_confirmed
            )
        except BrokerRefused:
            self._ib.disconnect()
            raise
        if self._account_id is not None and account != self._account_id and len(self._book):
            self._ib.disconnect()
            raise BrokerRefused(
                f"the login now shows account {mask_account(account)} instead of "
                f"{mask_account(self._account_id)}; refusing to mix their orders"
            )
        if account != self._account_id:
            self._account = AccountBook(account)
            self._positions.clear()
        self._account_id = account
        self._link_ok = True
        try:
            if self._market_data_type != 1:
                self._ib.reqMarketDataType(self._market_data_type)
            async with self._sync_lock:
                await self._resync()
            await self._after_resync(resubscribe=True)
        except BaseException:
            self._ib.disconnect()
            raise
        if not self._ib.isConnected():
            raise BrokerUnavailable("connection lost during the initial sync")
        self._ready = True
        self._session_up = True
        self._down_reason = None
        if self._heartbeat_s:
            self._heartbeat_task = asyncio.ensure_future(self._heartbeat_loop(self._heartbeat_s))
        label = account if is_paper_account(account) else mask_account(account)
        log.info(
            "connected to %s:%d as client %d, account %s",
            self.host,
            self.port,
            self.client_id,
            label,
        )
        self._emit(
            BrokerConnected(
                ts=self._clock.now(), account_id=account, is_paper=is_paper_account(account)
            )
        )

    async def _resync(self) -> None:
        """Full resync: open orders, executions, completed orders, positions, account.

        The caller holds the sync lock. Fills that happened while away are delivered (deduped
        by exec id); orders that ended while away are settled from completed orders.
        """
        trades = await self._request(self._ib.reqOpenOrdersAsync)
        open_keys = self._apply_open_trades(trades)
        fills = await self._request_executions()
        self._recover_fills(fills)
        completed = await self._completed_or_none()
        self._settle(
            [r for r in self._book.live() if id(r) not in open_keys],
            _Settled(open_keys, completed),
            after_reconnect=True,
        )
        before = dict(self._positions)
        positions = await self._request(self._ib.reqPositionsAsync)
        seen = {p.contract.conId for p in positions if p.account == self._account_id}
        for con_id, gone in before.items():
            if con_id not in seen and gone.quantity != 0:
                flat = gone.model_copy(update={"quantity": Decimal(0)})
                self._positions[con_id] = flat
                self._emit(PositionUpdated(ts=self._clock.now(), position=flat))
        await self._request_account_updates()

    async def _after_resync(self, *, resubscribe: bool) -> None:
        """Re-send what a disconnect may have swallowed: cancels, then market data."""
        if self._global_cancel_pending:
            await self._pacer.acquire(1, urgent=True)
            self._ib.reqGlobalCancel()
            self._global_cancel_pending = False
        for record in self._book.pending_cancels():
            await self._send_cancel(record, force=True)
        if resubscribe:
            self._tickers.clear()
            for instrument in list(self._quote_subs.values()):
                await self._start_quote(instrument)

    def _on_disconnected(self) -> None:
        self._ready = False
        self._account_streaming = False
        self._tickers.clear()
        for task in (self._restore_task, self._confirm_task, self._heartbeat_task):
            if task is not None and not task.done():
                task.cancel()
        if not self._session_up:
            return  # a failed attempt: its caller handles it
        reason = self._down_reason or "connection to TWS lost"
        self._report_down("disconnect requested" if self._closing else reason)
        if not self._closing and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())

    def _report_down(self, reason: str) -> None:
        if self._session_up:
            self._session_up = False
            log.warning("broker session down: %s", reason)
            self._emit(BrokerDisconnected(ts=self._clock.now(), reason=reason))

    async def _reconnect_loop(self) -> None:
        failures = 0
        client_id_in_use = False
        while not self._closing:
            delay = self._policy.next_delay(
                failures, self._clock.monotonic(), client_id_in_use=client_id_in_use
            )
            if delay > 0:
                await self._sleep(delay)
            if self._closing:
                return
            try:
                await self._open_session()
                log.info("reconnected after %d failed attempt(s)", failures)
                return
            except BrokerRefused as exc:
                log.error("reconnect refused: %s", exc)
                self._notice(0, f"reconnect refused: {exc}")
                return
            except ClientIdInUse as exc:
                failures += 1
                client_id_in_use = True
                self._notice(326, str(exc))
            except (BrokerUnavailable, ConnectionError, OSError, TimeoutError) as exc:
                failures += 1
                client_id_in_use = False
                log.warning("reconnect attempt %d failed: %s", failures, exc)

    async def _heartbeat_loop(self, every_s: float) -> None:
        """Detect a silent TWS (half-open socket): no answer to reqCurrentTime means down."""
        while self._session_up and self._ib.isConnected():
            await asyncio.sleep(every_s)
            if not self._ib.isConnected():
                return
            await self._pacer.acquire(1)
            sent = self._clock.monotonic()
            try:
                await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), every_s)
                self.heartbeats_answered += 1
                self.heartbeat_rtt_s = self._clock.monotonic() - sent
            except TimeoutError:
                log.error("TWS did not answer the heartbeat within %.1fs: reconnecting", every_s)
                self._down_reason = "TWS stopped answering (heartbeat timeout)"
                self._ib.disconnect()
                return
            except ConnectionError:
                return

    async def _restore(self, data_lost: bool) -> None:
        """After 1101/1102: resync before orders flow again, then say the link is back."""
        try:
            async with self._sync_lock:
                await self._resync()
            self._link_ok = True
            if data_lost:
                for ticker, _ in list(self._tickers.values()):
                    if ticker.contract is not None:
                        await self._pacer.acquire(1)
                        self._ib.cancelMktData(ticker.contract)
            await self._after_resync(resubscribe=data_lost)
        except (BrokerUnavailable, ConnectionError) as exc:
            log.warning("resync after restored connectivity failed: %s", exc)
            return
        self._emit(ConnectivityChanged(ts=self._clock.now(), connected=True, data_lost=data_lost))

    # --- requests ------------------------------------------------------------------------

    async def _request(self, factory: Callable[[], Awaitable[T]]) -> T:
        """One paced sync request with a timeout; failures become BrokerUnavailable."""
        await self._pacer.acquire(1)
        self._require_socket()
        try:
            return await asyncio.wait_for(factory(), self._request_timeout)
        except TimeoutError:
            raise BrokerUnavailable("the broker did not answer a sync request in time") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"connection lost: {exc}") from None

    async def _request_executions(self) -> list[Fill]:
        account = self._account_id or ""
        return await self._request(
            lambda: self._ib.reqExecutionsAsync(ExecutionFilter(acctCode=account))
        )

    async def _request_account_updates(self) -> None:
        account = self._account_id or ""
        await self._request(lambda: self._ib.reqAccountUpdatesAsync(account))
        self._account_streaming = True
        self._account_dirty = self._account.has_values
        self._flush_account()

    async def _completed_or_none(self) -> dict[str, Trade] | None:
        """Completed orders by permId and orderRef; None if the broker did not answer."""
        try:
            trades = await self._request(lambda: self._ib.reqCompletedOrdersAsync(False))
        except BrokerUnavailable:
            if not self._ib.isConnected():
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

    async def _send_cancel(self, record: OrderRecord, *, force: bool = False) -> None:
        if not self._can_send():
            log.warning("cancel %s kept: not connected, sent after the resync", record.order_ref)
            return
        await self._pacer.acquire(1, urgent=True)
        if record.terminal or not self._can_send():
            return
        try:
            self._ib.client.cancelOrder(record.order_id, "")
        except ConnectionError:
            log.warning("cancel %s kept: connection lost", record.order_ref)
            return
        log.info("cancel sent for %s%s", record.order_ref, " (re-sent)" if force else "")

    async def _start_quote(self, instrument: Instrument) -> None:
        """reqMktData; ib_async keys tickers by conId, so the contract is qualified first."""
        contract = await self._qualified(instrument)
        if contract is None:
            return
        await self._pacer.acquire(1)
        if not self._ib.isConnected():
            return
        ticker = self._ib.reqMktData(contract, "", False, False)
        self._tickers[id(ticker)] = (ticker, instrument.symbol)

    async def _qualified(self, instrument: Instrument) -> Contract | None:
        key = _instrument_key(instrument)
        con_id = self._con_ids.get(key)
        contract = convert.instrument_to_contract(instrument)
        if con_id:
            contract.conId = con_id
            return contract
        try:
            details = await self._request(lambda: self._ib.reqContractDetailsAsync(contract))
        except BrokerUnavailable as exc:
            log.warning("quotes for %s not subscribed: %s", instrument.symbol, exc)
            return None
        found = [d.contract for d in details if d.contract is not None and d.contract.conId]
        if len(found) != 1:
            self._notice(0, f"quotes: {instrument.symbol} matches {len(found)} contracts")
            return None
        self._con_ids[key] = contract.conId = found[0].conId
        return contract

    # --- order state ---------------------------------------------------------------------

    def _apply_open_trades(self, trades: list[Trade]) -> set[int]:
        """Fold an open-orders answer into the records; returns ids of records seen open."""
        seen: set[int] = set()
        for trade in trades:
            record = self._record_for_trade(trade, adopt=True)
            if record is None:
                continue
            seen.add(id(record))
            status = _open_status(trade)
            if status in _WORKING:
                if record.terminal:
                    self._notice(
                        0,
                        "order reported final is still working at the broker",
                        record.order_ref,
                    )
                    continue
                record.status = status
                self._accept(record)
            elif status is BrokerOrderStatus.REJECTED:
                self._notice(0, "order inactive at the broker", record.order_ref)
        return seen

    def _record_for_trade(self, trade: Trade, *, adopt: bool = False) -> OrderRecord | None:
        order = trade.order
        perm_id = order.permId or trade.orderStatus.permId
        own = order.clientId in (0, self.client_id)
        record = self._book.find(
            perm_id=perm_id,
            order_ref=order.orderRef,
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

    def _accept(self, record: OrderRecord) -> None:
        if record.accepted or record.terminal:
            return
        record.accepted = True
        self._emit(
            OrderAccepted(
                ts=self._clock.now(),
                order_ref=record.order_ref,
                broker_order_id=record.order_id,
                perm_id=record.perm_id,
            )
        )

    def _finish(self, record: OrderRecord, status: BrokerOrderStatus) -> bool:
        """Mark a record final; False if it already was (the event must not be repeated)."""
        if record.terminal:
            return False
        record.terminal = True
        record.status = status
        record.cancel_pending = False
        return True

    def _cancelled(self, record: OrderRecord, reason: str) -> None:
        if self._finish(record, BrokerOrderStatus.CANCELLED):
            self._emit(
                OrderCancelled(
                    ts=self._clock.now(),
                    order_ref=record.order_ref,
                    perm_id=record.perm_id,
                    filled=record.filled,
                    reason=reason,
                )
            )

    def _rejected(self, record: OrderRecord, code: int, reason: str) -> None:
        if self._finish(record, BrokerOrderStatus.REJECTED):
            self._emit(
                OrderRejected(
                    ts=self._clock.now(), order_ref=record.order_ref, code=code, reason=reason
                )
            )

    def _settle(
        self, missing: list[OrderRecord], settled: _Settled, *, after_reconnect: bool
    ) -> None:
        """Decide records the broker no longer lists as open, from completed orders."""
        for record in missing:
            if record.terminal:
                continue
            code, reason = record.last_error or (0, "")
            cancel_failed = bool(
                code and mapping.classify_error(code) is ErrorCategory.CANCEL_REJECTED
            )
            trade = None
            if settled.completed is not None:
                trade = settled.completed.get(f"perm:{record.perm_id}") or settled.completed.get(
                    f"ref:{record.order_ref}"
                )
            if trade is not None:
                status = mapping.order_status(trade.orderStatus.status)
                if status is BrokerOrderStatus.FILLED:
                    if record.filled >= record.quantity:
                        self._finish(record, BrokerOrderStatus.FILLED)
                    else:
                        self._notice(
                            code, "order filled but executions are missing", record.order_ref
                        )
                    if cancel_failed:
                        self._cancel_rejected(record, code, reason)
                elif status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.REJECTED):
                    if record.accepted or record.cancel_pending:
                        self._cancelled(record, reason or "cancelled at the broker")
                    else:
                        self._rejected(record, code, reason or "refused by the broker")
                else:
                    self._notice(code, "order listed as completed but not final", record.order_ref)
                continue
            if record.quantity > 0 and record.filled >= record.quantity:
                self._finish(record, BrokerOrderStatus.FILLED)
                continue
            certain = settled.completed is not None or record.last_error is not None
            when = "after reconnect" if after_reconnect else "after an order error"
            if not certain:
                self._notice(code, f"order state unknown {when}", record.order_ref)
            elif not record.accepted and not record.cancel_pending:
                self._rejected(record, code, reason or "the broker has no record of this order")
            elif record.cancel_pending and not cancel_failed:
                self._cancelled(record, reason or "cancelled (no longer listed by the broker)")
            elif cancel_failed:
                self._cancel_rejected(record, code, reason)
            else:
                self._notice(code, f"order state unknown {when}", record.order_ref)

    def _cancel_rejected(self, record: OrderRecord, code: int, reason: str) -> None:
        record.cancel_pending = False
        self._emit(
            CancelRejected(
                ts=self._clock.now(), order_ref=record.order_ref, code=code, reason=reason
            )
        )

    def _settle_after_pacing(self, code: int, message: str) -> None:
        """TWS drops messages over its rate limit, so orders in flight may never have arrived.

        Once the window has passed, confirm every unacknowledged order with the broker: TWS
        answers a connection's requests in order, so open orders asked for now list every order
        it received; one it does not list (and did not complete) was dropped, and is reported
        rejected rather than left waiting for an ack that will never come.
        """
        in_flight = [r for r in self._book.live() if not r.accepted and not r.terminal]
        if not in_flight:
            return

        def confirm() -> None:
            for record in in_flight:
                if not record.accepted and not record.terminal:
                    record.last_error = record.last_error or (code, f"not placed: {message}")
                    self._schedule_confirm(record)

        asyncio.get_running_loop().call_later(PACING_SETTLE_S, confirm)

    def _schedule_confirm(self, record: OrderRecord) -> None:
        """Re-fetch the broker's view of an order after an error (coalesced)."""
        self._confirm_refs.add(record.order_ref)
        if self._confirm_task is None or self._confirm_task.done():
            self._confirm_task = asyncio.ensure_future(self._confirm_loop())

    async def _confirm_loop(self) -> None:
        while self._confirm_refs:
            refs, self._confirm_refs = self._confirm_refs, set()
            records = [r for ref in refs if (r := self._book.by_ref(ref)) is not None]
            try:
                async with self._sync_lock:
                    trades = await self._request(self._ib.reqOpenOrdersAsync)
                    open_keys = self._apply_open_trades(trades)
                    for record in records:
                        if id(record) in open_keys and record.last_error:
                            code, reason = record.last_error
                            if (
                                mapping.classify_error(code) is ErrorCategory.CANCEL_REJECTED
                                and record.status is not BrokerOrderStatus.PENDING_CANCEL
                            ):
                                self._cancel_rejected(record, code, reason)
                            record.last_error = None
                    missing = [r for r in records if id(r) not in open_keys and not r.terminal]
                    if not missing:
                        continue
                    self._recover_fills(await self._request_executions())
                    completed = await self._completed_or_none()
                    self._settle(missing, _Settled(open_keys, completed), after_reconnect=False)
                    for record in missing:
                        record.last_error = None
            except BrokerUnavailable as exc:
                log.warning("order confirm deferred to the resync: %s", exc)
                return

    # --- ib_async event handlers (synchronous) --------------------------------------------

    def _on_order_status(self, trade: Trade) -> None:
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's local state after an error: confirmed with the broker instead
        status = mapping.order_status(trade.orderStatus.status)
        if status is None:
            return
        record = self._record_for_trade(trade)
        if record is None:
            return
        filled = mapping.to_decimal(trade.orderStatus.filled)
        if filled is not None and filled > record.filled and status is BrokerOrderStatus.CANCELLED:
            record.filled = filled
        if record.terminal:
            return
        if status in (BrokerOrderStatus.WORKING, BrokerOrderStatus.PENDING_CANCEL):
            record.status = status
            self._accept(record)
        elif status is BrokerOrderStatus.CANCELLED:
            if record.accepted or record.cancel_pending:
                self._cancelled(record, "cancelled")
            else:
                # never acknowledged: a rejection in disguise until the broker says otherwise
                self._schedule_confirm(record)
        elif status is BrokerOrderStatus.FILLED:
            record.status = status
            if record.filled >= record.quantity:
                self._finish(record, BrokerOrderStatus.FILLED)
        elif status is BrokerOrderStatus.REJECTED:  # Inactive
            self._schedule_confirm(record)

    def _on_open_order(self, trade: Trade) -> None:
        self._record_for_trade(trade)

    def _on_exec_details(self, trade: Trade, fill: Fill) -> None:
        self._deliver_fill(fill, trade)

    def _recover_fills(self, fills: list[Fill]) -> None:
        for fill in sorted(fills, key=lambda f: (f.execution.time, f.execution.execId)):
            self._deliver_fill(fill, None)

    def _deliver_fill(self, fill: Fill, trade: Trade | None) -> None:
        ex = fill.execution
        if ex.acctNumber and self._account_id and ex.acctNumber != self._account_id:
            return
        quantity = mapping.to_decimal(ex.shares)
        price = mapping.to_price(ex.price)
        if not ex.execId or quantity is None or quantity <= 0 or price is None:
            return
        if not self._book.note_exec(ex.execId):
            return
        record = self._book.find(perm_id=ex.permId, order_ref=ex.orderRef)
        cum = mapping.to_decimal(ex.cumQty)
        if cum is None or cum <= 0:
            cum = (record.filled if record is not None else Decimal(0)) + quantity
        if record is not None:
            self._book.set_perm_id(record, ex.permId)
            record.filled = max(record.filled, cum)
            remaining = record.remaining
            if not record.accepted and not record.terminal:
                self._accept(record)
        else:
            total = mapping.to_decimal(trade.order.totalQuantity) if trade is not None else None
            remaining = max(total - cum, Decimal(0)) if total is not None else Decimal(0)
        self._emit(
            OrderFilled(
                ts=self._clock.now(),
                order_ref=ex.orderRef or (record.order_ref if record else ""),
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
            self._finish(record, BrokerOrderStatus.FILLED)
        report = fill.commissionReport
        if report is not None and report.execId == ex.execId:
            self._deliver_commission(report)

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        if fill.execution.execId not in self._book.seen_exec_ids:
            return  # delivered with the fill when the fill is recovered
        self._deliver_commission(report)

    def _deliver_commission(self, report: CommissionReport) -> None:
        commission = mapping.to_decimal(report.commission)
        if commission is None or not self._book.note_commission(report.execId):
            return
        pnl = mapping.to_decimal(report.realizedPNL)
        self._emit(
            CommissionReported(
                ts=self._clock.now(),
                exec_id=report.execId,
                commission=commission,
                currency=report.currency or "USD",
                realized_pnl=pnl if pnl else None,
            )
        )

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any) -> None:
        record = self._book.by_order_id(req_id) if req_id > 0 else None
        category = mapping.classify_error(
            code, order_acknowledged=bool(record and (record.accepted or record.perm_id))
        )
        now = self._clock.now()
        if category is ErrorCategory.CONNECTIVITY_LOST:
            self._connectivity_lost(message)
        elif category in (
            ErrorCategory.CONNECTIVITY_RESTORED,
            ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST,
        ):
            self._connectivity_restored(
                category is ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST, message
            )
        elif category in (ErrorCategory.FARM_OK, ErrorCategory.FARM_DOWN):
            self._emit(
                DataFarmStatus(
                    ts=now,
                    farm=mapping.farm_name(message),
                    ok=category is ErrorCategory.FARM_OK,
                    message=message,
                )
            )
        elif category is ErrorCategory.PACING:
            self._emit(PacingViolation(ts=now, message=message))
            self._settle_after_pacing(code, message)
        elif category is ErrorCategory.NOT_CONNECTED:
            self._notice(code, message)
            if self._session_up:
                self._ib.disconnect()  # the reconnect loop takes over
        elif record is not None and category in mapping.ORDER_STATE_CATEGORIES:
            self._order_error(record, category, code, message)
        elif record is not None and not mapping.is_known(code) and not mapping.is_warning(code):
            # an unknown error on one of our orders: ib_async now says "Cancelled" locally
            self._notice(code, message, record.order_ref)
            record.last_error = (code, message)
            self._schedule_confirm(record)
        else:
            self._notice(code, message, record.order_ref if record else None)

    def _order_error(
        self, record: OrderRecord, category: ErrorCategory, code: int, message: str
    ) -> None:
        record.last_error = (code, message)
        if category is ErrorCategory.ORDER_REJECTED:
            self._rejected(record, code, message)
            self._schedule_confirm(record)
            for child in self._book.children_of(record):
                if not child.terminal:
                    child.last_error = (code, f"parent order rejected: {message}")
                    self._schedule_confirm(child)
        elif category is ErrorCategory.CANCELLED:
            self._cancelled(record, message)
        elif category is ErrorCategory.CANCEL_REJECTED:
            if record.status is BrokerOrderStatus.FILLED:
                self._cancel_rejected(record, code, message)  # the fill beat the cancel
            elif record.terminal:
                self._notice(code, message, record.order_ref)  # already cancelled/rejected
            else:
                self._schedule_confirm(record)  # CancelRejected once the state is known
        elif category is ErrorCategory.MODIFY_REJECTED:
            self._emit(
                ModifyRejected(
                    ts=self._clock.now(), order_ref=record.order_ref, code=code, reason=message
                )
            )
            self._schedule_confirm(record)
        else:  # PRECAUTIONARY
            self._notice(code, message, record.order_ref)
            self._schedule_confirm(record)

    def _connectivity_lost(self, message: str) -> None:
        if self._restore_task is not None and not self._restore_task.done():
            self._restore_task.cancel()
        if self._link_ok:
            self._link_ok = False
            self._emit(ConnectivityChanged(ts=self._clock.now(), connected=False, message=message))

    def _connectivity_restored(self, data_lost: bool, message: str) -> None:
        log.info("IB connectivity restored (data %s): resync", "lost" if data_lost else "kept")
        if self._restore_task is not None and not self._restore_task.done():
            self._restore_task.cancel()
        self._link_ok = False  # closed until the resync is done
        self._restore_task = asyncio.ensure_future(self._restore(data_lost))

    def _on_account_value(self, value: AccountValue) -> None:
        if value.modelCode:
            return
        if self._account.update(value.account, value.tag, value.value, value.currency):
            self._account_dirty = True

    def _flush_account(self) -> None:
        if self._account_dirty and self._account_streaming and self._account.has_values:
            self._account_dirty = False
            self._emit(
                AccountUpdated(
                    ts=self._clock.now(), account=self._account.snapshot(self._clock.now())
                )
            )

    def _on_position(self, position: Position) -> None:
        if position.account != self._account_id:
            return
        converted = convert.position_to_broker(position)
        if converted is None:
            return
        self._positions[position.contract.conId] = converted
        self._emit(PositionUpdated(ts=self._clock.now(), position=converted))

    def _on_pending_tickers(self, tickers: set[IbTicker]) -> None:
        if not self._tickers:
            return
        now = self._clock.now()
        for ticker in tickers:
            entry = self._tickers.get(id(ticker))
            if entry is None:
                continue
            quote = Quote(
                symbol=entry[1],
                bid=mapping.to_price(ticker.bid),
                ask=mapping.to_price(ticker.ask),
                last=mapping.to_price(ticker.last),
                ts=now,
            )
            self._emit(QuoteUpdated(ts=now, quote=quote))

    # --- helpers -------------------------------------------------------------------------

    def _our_positions(self, positions: list[Position]) -> list[BrokerPosition]:
        result = []
        for position in positions:
            if position.account != self._account_id:
                continue
            converted = convert.position_to_broker(position)
            if converted is not None:
                result.append(converted)
        return result

    def _can_send(self) -> bool:
        """Cancels may go out: the socket is up and IB is reachable (not between 1100/110x)."""
        return self._ib.isConnected() and self._link_ok

    def _require_connected(self) -> None:
        if not self.connected:
            reason = (
                "IB connectivity lost (1100)"
                if self._ready and not self._link_ok
                else "not connected to IB (or resync not finished)"
            )
            raise BrokerUnavailable(f"{reason}: new orders are blocked")

    def _require_socket(self) -> None:
        if not self._ib.isConnected():
            raise BrokerUnavailable("not connected to IB")

    def _notice(self, code: int, message: str, order_ref: str | None = None) -> None:
        self._emit(
            BrokerNotice(ts=self._clock.now(), code=code, message=message, order_ref=order_ref)
        )

    def _emit(self, event: BrokerEvent) -> None:
        if self._sink is None:
            return
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink failed on %s", type(event).__name__)


def _instrument_key(instrument: Instrument) -> tuple[str, str, str, str]:
    return (instrument.symbol, instrument.sec_type, instrument.exchange, instrument.currency)


def _open_status(trade: Trade) -> BrokerOrderStatus:
    """Status of an order the broker listed as open; ib_async-local states count as working."""
    local = bool(trade.log and trade.log[-1].errorCode)
    status = None if local else mapping.order_status(trade.orderStatus.status)
    if status is None or status is BrokerOrderStatus.PENDING_SUBMIT:
        return BrokerOrderStatus.WORKING
    return status


def _record_for(request: OrderRequest, leg: OrderLeg, order_ref: str, order_id: int) -> OrderRecord:
    if leg is OrderLeg.TAKE_PROFIT:
        return OrderRecord(
            order_ref=order_ref,
            order_id=order_id,
            instrument=request.instrument,
            side=request.side.opposite,
            quantity=request.quantity,
            order_type=OrderType.LIMIT,
            limit_price=request.take_profit,
        )
    if leg is OrderLeg.STOP_LOSS:
        return OrderRecord(
            order_ref=order_ref,
            order_id=order_id,
            instrument=request.instrument,
            side=request.side.opposite,
            quantity=request.quantity,
            order_type=OrderType.STOP,
            stop_price=request.stop_loss,
        )
    return OrderRecord(
        order_ref=order_ref,
        order_id=order_id,
        instrument=request.instrument,
        side=request.side,
        quantity=request.quantity,
        order_type=request.order_type,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
    )
