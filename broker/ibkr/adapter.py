"""`IbkrBroker`: the engine's broker port over ib_async, composed of session, orders, data, account.

Every ib_async event is translated into a `contracts.broker` event and handed synchronously
to the sink. The adapter trusts only what the broker says: ib_async's local order states
(Cancelled after any error, PendingCancel on cancel) never become engine events; an order
error is confirmed by re-fetching open orders, completed orders and executions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ib_async import IB

from broker.ibkr import mapping
from broker.ibkr.account_feed import AccountFeed
from broker.ibkr.bars import BarFeed
from broker.ibkr.confirmation import OrderConfirmation
from broker.ibkr.connection import redact_account_in_logs
from broker.ibkr.link import IbLink
from broker.ibkr.mapping import ErrorCategory
from broker.ibkr.market_data import MarketData
from broker.ibkr.order_flow import OrderFlow
from broker.ibkr.order_outcomes import OrderOutcomes
from broker.ibkr.orders import OrderBook
from broker.ibkr.pacing import (
    MAX_MESSAGES_PER_SECOND,
    OutboundPacer,
    ReconnectPolicy,
)
from broker.ibkr.session import Endpoint, IbSession, SessionHooks, SleepFn
from contracts.broker import (
    AccountSnapshot,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    DataFarmStatus,
    OrderEntryRefused,
    OrderRequest,
    PacingViolation,
)
from contracts.intent import Instrument
from contracts.market import Bar, BarRequest, ContractFacts, MarginPreview
from engine.clock import Clock, SystemClock
from engine.ports import EventSink


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
        max_messages_per_second: outbound pacing, at most 46 (IB's 50 less an 80 ms burst).
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
        max_messages_per_second: int = MAX_MESSAGES_PER_SECOND,
        market_data_type: int = 1,
        known_exec_ids: Iterable[str] = (),
        heartbeat_s: float | None = 10.0,
    ) -> None:
        self.client_id = client_id
        if live_confirmed_account:
            redact_account_in_logs(live_confirmed_account)
        self._pacer = OutboundPacer.per_second(max_messages_per_second)
        self._ib = IB()
        self._ib.client.MaxRequests = max_messages_per_second  # ib_async's default is 45
        self._link = IbLink(self._ib, self._pacer, clock or SystemClock(), request_timeout_s)
        self._book = OrderBook()
        self._book.mark_seen(known_exec_ids)
        self._outcomes = OrderOutcomes(self._link, self._book, client_id)
        self._confirmation = OrderConfirmation(self._link, self._book, self._outcomes)
        self._orders = OrderFlow(self._link, self._book, self._outcomes, self._confirmation)
        self._market = MarketData(self._link)
        self._bars = BarFeed(self._link, self._market)
        self._account = AccountFeed(self._link)
        self._endpoint = Endpoint(
            host,
            port,
            client_id,
            account or None,
            live_confirmed_account or None,
            connect_timeout_s,
        )
        self._session = IbSession(
            self._link,
            self._endpoint,
            SessionHooks(
                resync=self._resync,
                after_resync=self._after_resync,
                drop_market_data=self._drop_market_data,
                has_orders=lambda: len(self._book) > 0,
                switch_account=self._account.switch_account,
            ),
            policy=reconnect or ReconnectPolicy(),
            sleep=sleep,
            market_data_type=market_data_type,
            heartbeat_s=heartbeat_s,
        )
        ib = self._ib
        ib.orderStatusEvent += self._orders.on_order_status
        ib.openOrderEvent += self._orders.on_open_order
        ib.execDetailsEvent += self._orders.on_exec_details
        ib.commissionReportEvent += self._outcomes.on_commission
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.accountValueEvent += self._account.on_account_value
        ib.positionEvent += self._account.on_position
        ib.pendingTickersEvent += self._market.on_pending_tickers
        ib.updateEvent += self._account.flush

    # --- port: session -------------------------------------------------------------------------

    def set_event_sink(self, sink: EventSink) -> None:
        self._link.sink = sink

    @property
    def host(self) -> str:
        return self._endpoint.host

    @host.setter
    def host(self, host: str) -> None:
        self._endpoint.host = host

    @property
    def port(self) -> int:
        """The API port; may be set before `connect` (e.g. a gateway on an ephemeral port)."""
        return self._endpoint.port

    @port.setter
    def port(self, port: int) -> None:
        self._endpoint.port = port

    @property
    def connected(self) -> bool:
        """True while new orders can be sent (session up, resynced, IB link up)."""
        return self._link.orders_allowed

    @property
    def account_id(self) -> str | None:
        return self._link.account_id

    @property
    def heartbeats_answered(self) -> int:
        """Diagnostics: heartbeats TWS answered this run."""
        return self._session.heartbeats_answered

    @property
    def heartbeat_rtt_s(self) -> float | None:
        """Diagnostics: the last heartbeat's round trip in seconds."""
        return self._session.heartbeat_rtt_s

    async def connect(self) -> None:
        """Connect, check port and account safety, and run the full sync.

        Raises:
            BrokerRefused: unsafe port or account (do not retry).
            BrokerUnavailable: cannot connect now (ClientIdInUse for 326).
        """
        if self.connected:
            return
        await self._session.connect()

    def reconnect_now(self) -> str:
        """Reconnect at once instead of after the backoff (never a second concurrent connect)."""
        return self._session.reconnect_now()

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting; idempotent."""
        await self._confirmation.stop()
        await self._session.disconnect()

    async def quiesce(self) -> None:
        """Wait until no order confirmation or connectivity resync is in flight."""
        while True:
            busy = [t for t in (self._confirmation.busy, self._session.restoring) if t]
            if not busy:
                return
            await asyncio.wait(busy)

    # --- port: orders --------------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> None:
        """Place one order (a bracket when stop_loss/take_profit are set); see `OrderFlow`."""
        await self._orders.submit(order)

    async def cancel(self, order_ref: str) -> None:
        """Cancel one order; while disconnected the cancel is kept and sent after the resync."""
        await self._orders.cancel(order_ref)

    async def cancel_all(self) -> None:
        """reqGlobalCancel: every working order of the account; re-sent after a reconnect."""
        await self._orders.cancel_all()

    async def open_orders(self) -> list[BrokerOrder]:
        """Working orders as the broker reports them now."""
        return await self._orders.open_orders()

    async def completed_orders(self) -> list[BrokerOrder]:
        """Today's finished orders (reqCompletedOrders)."""
        return await self._orders.completed_orders()

    async def executions(self) -> list[BrokerExecution]:
        """Today's fills of the account (reqExecutions)."""
        return await self._orders.executions()

    # --- port: account and data ----------------------------------------------------------------

    async def positions(self) -> list[BrokerPosition]:
        return await self._account.positions()

    async def account(self) -> AccountSnapshot:
        """The account snapshot kept live by the account-updates subscription."""
        return await self._account.account()

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        """Stream QuoteUpdated for `instrument` (kept across reconnects)."""
        await self._market.subscribe_quotes(instrument)

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        """reqContractDetails: every match (all listed expiries of a future given none)."""
        self._link.require_socket()
        return await self._market.contract_details(instrument)

    async def historical_bars(self, instrument: Instrument, request: BarRequest) -> list[Bar]:
        """reqHistoricalData for the instrument, oldest bar first."""
        self._link.require_socket()
        return await self._bars.historical_bars(instrument, request)

    async def subscribe_bars(self, instrument: Instrument) -> None:
        """reqRealTimeBars (5 s) as BarUpdated; kept across reconnects, gaps filled once."""
        await self._bars.subscribe_bars(instrument)

    async def what_if(self, order: OrderRequest) -> MarginPreview:
        """IB's whatIf preview of the order's entry; nothing is placed."""
        return await self._orders.what_if(order)

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Change a working order in place, confirmed by the broker (see `OrderFlow.modify`)."""
        await self._orders.modify(
            order_ref, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )

    # --- wiring --------------------------------------------------------------------------------

    async def _resync(self) -> None:
        """Full resync (the sync lock is held): orders, fills, completed orders, positions."""
        await self._confirmation.resync_orders()
        await self._account.resync()

    async def _after_resync(self, resubscribe: bool) -> None:
        await self._orders.resend_cancels()
        if resubscribe:
            await self._market.resubscribe()
            await self._bars.resubscribe()

    async def _drop_market_data(self) -> None:
        await self._market.cancel_live()
        await self._bars.cancel_live()

    def _on_disconnected(self) -> None:
        self._account.on_disconnected()
        self._market.on_disconnected()
        self._bars.on_disconnected()
        self._confirmation.cancel()
        self._session.on_disconnected()

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any) -> None:
        """Route an IB error by its category (`mapping.classify_error`)."""
        record = self._book.by_order_id(req_id) if req_id > 0 else None
        category = mapping.classify_error(
            code, order_acknowledged=bool(record and (record.accepted or record.perm_id))
        )
        link = self._link
        if mapping.is_read_only_refusal(message):
            self._read_only(message)
        if category is ErrorCategory.CONNECTIVITY_LOST:
            self._session.connectivity_lost(message)
        elif category in (
            ErrorCategory.CONNECTIVITY_RESTORED,
            ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST,
        ):
            self._session.connectivity_restored(
                category is ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST
            )
        elif category in (ErrorCategory.FARM_OK, ErrorCategory.FARM_DOWN):
            link.emit(
                DataFarmStatus(
                    ts=link.clock.now(),
                    farm=mapping.farm_name(message),
                    ok=category is ErrorCategory.FARM_OK,
                    message=message,
                )
            )
        elif category is ErrorCategory.PACING:
            link.emit(PacingViolation(ts=link.clock.now(), message=message))
            self._confirmation.settle_after_pacing(code, message)
        elif category is ErrorCategory.NOT_CONNECTED:
            link.notice(code, message)
            if self._session.session_up:
                self._ib.disconnect()  # the reconnect loop takes over
        elif record is not None and category in mapping.ORDER_STATE_CATEGORIES:
            self._orders.on_order_error(record, category, code, message)
        elif record is not None and not mapping.is_known(code) and not mapping.is_warning(code):
            self._orders.on_unknown_error(record, code, message)
        else:
            link.notice(code, message, record.order_ref if record else None)

    def _read_only(self, message: str) -> None:
        """TWS refused a request because the API is read-only: no order can go out this session."""
        if self._link.read_only_reason is not None:
            return
        self._link.read_only_reason = message
        self._link.emit(OrderEntryRefused(ts=self._link.clock.now(), reason=message))
