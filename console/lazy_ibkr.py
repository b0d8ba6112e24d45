"""`LazyIbkrBroker`: the IB adapter built on first use, so the first frame never waits for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from contracts.broker import (
    AccountSnapshot,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from contracts.intent import Instrument
from contracts.market import Bar, BarRequest, ContractFacts, MarginPreview
from engine.ports import EventSink

if TYPE_CHECKING:  # ib_async (and numpy under it) loads when the adapter is built
    from broker.ibkr.adapter import IbkrBroker


class LazyIbkrBroker:
    """The BrokerPort of an `IbkrBroker` that is built when first used.

    The console builds the engine before its first frame; importing ib_async (eventkit, numpy)
    and starting an embedded gateway are what made that frame late. Normally the first use is
    `connect`, from the engine's start after the console is on screen; `prepare(adapter)` runs
    once before that first connect (start the embedded gateway, point the adapter at its port).

    Every other call builds the adapter at once and is the adapter's own: a kill pressed before
    the connection reaches the real `cancel_all`, which keeps the global cancel for after the
    resync, exactly as an adapter built up front would.
    """

    name = "ibkr"

    def __init__(
        self,
        build: Callable[[], IbkrBroker],
        prepare: Callable[[IbkrBroker], Awaitable[None]] | None = None,
    ) -> None:
        self._build = build
        self._prepare = prepare
        self._adapter: IbkrBroker | None = None
        self._sink: EventSink | None = None

    def adapter(self) -> IbkrBroker:
        """The `IbkrBroker`, built now if it is not yet (imports ib_async)."""
        if self._adapter is None:
            adapter = self._build()
            if self._sink is not None:
                adapter.set_event_sink(self._sink)
            self._adapter = adapter
        return self._adapter

    # --- port: session -------------------------------------------------------------------------

    def set_event_sink(self, sink: EventSink) -> None:
        self._sink = sink
        if self._adapter is not None:
            self._adapter.set_event_sink(sink)

    @property
    def connected(self) -> bool:
        return self._adapter is not None and self._adapter.connected

    async def connect(self) -> None:
        adapter = self.adapter()
        if self._prepare is not None:
            await self._prepare(adapter)
            self._prepare = None  # prepared once; a failed preparation is tried again
        await adapter.connect()

    def reconnect_now(self) -> str:
        return self.adapter().reconnect_now()

    async def disconnect(self) -> None:
        if self._adapter is not None:  # never built: nothing was ever connected
            await self._adapter.disconnect()

    # --- port: orders --------------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> None:
        await self.adapter().submit(order)

    async def cancel(self, order_ref: str) -> None:
        await self.adapter().cancel(order_ref)

    async def cancel_all(self) -> None:
        await self.adapter().cancel_all()

    async def open_orders(self) -> list[BrokerOrder]:
        return await self.adapter().open_orders()

    async def completed_orders(self) -> list[BrokerOrder]:
        return await self.adapter().completed_orders()

    async def executions(self) -> list[BrokerExecution]:
        return await self.adapter().executions()

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        await self.adapter().modify(
            order_ref, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )

    async def what_if(self, order: OrderRequest) -> MarginPreview:
        return await self.adapter().what_if(order)

    # --- port: account and data ----------------------------------------------------------------

    async def positions(self) -> list[BrokerPosition]:
        return await self.adapter().positions()

    async def account(self) -> AccountSnapshot:
        return await self.adapter().account()

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        await self.adapter().subscribe_quotes(instrument)

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        return await self.adapter().contract_details(instrument)

    async def historical_bars(self, instrument: Instrument, request: BarRequest) -> list[Bar]:
        return await self.adapter().historical_bars(instrument, request)

    async def subscribe_bars(self, instrument: Instrument) -> None:
        await self.adapter().subscribe_bars(instrument)
