"""The broker port: the one interface every venue adapter implements.

| method              | required | what it does                                                   |
| ------------------- | -------- | -------------------------------------------------------------- |
| set_event_sink      | yes      | where the adapter delivers `BrokerEvent`s (called synchronously)|
| connect             | yes      | connect and finish the initial sync; raises BrokerUnavailable  |
| disconnect          | yes      | close the session; idempotent                                  |
| connected           | yes      | property: True while orders can be sent                        |
| submit              | yes      | place one order (+ bracket exits); raises BrokerUnavailable    |
| cancel              | yes      | cancel one order by orderRef; never silently dropped           |
| cancel_all          | yes      | global cancel of every working order of the account            |
| open_orders         | yes      | working orders as the broker sees them now                     |
| executions          | yes      | today's fills, so a restart or reconnect can recover gaps      |
| positions           | yes      | positions as the broker sees them now                          |
| account             | yes      | account snapshot (NAV, funds, buying power, margin)            |
| subscribe_quotes    | yes      | stream `QuoteUpdated` for an instrument                        |
| completed_orders    | optional | today's finished orders (filled/cancelled) for recovery        |
| contract_details    | optional | broker facts for an instrument (`ContractFacts`, all matches)  |
| modify              | optional | change price/quantity/stop of a working order, confirmed       |
| what_if             | optional | margin/commission preview of an order (`MarginPreview`)        |
| historical_bars     | optional | bars for an instrument (`BarRequest` -> list of `Bar`)         |
| subscribe_bars      | optional | stream live 5-second bars as `BarUpdated` events               |

Events delivered: BrokerConnected, BrokerDisconnected, ConnectivityChanged, DataFarmStatus,
OrderAccepted, OrderFilled, CommissionReported, OrderCancelled, OrderRejected,
CancelRejected, ModifyRejected, PacingViolation, BrokerNotice, QuoteUpdated, AccountUpdated,
PositionUpdated, BarUpdated (all in `contracts.broker`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

from contracts.broker import (
    AccountSnapshot,
    BrokerEvent,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from contracts.intent import Instrument
from contracts.market import Bar, BarRequest, ContractFacts, MarginPreview

EventSink = Callable[[BrokerEvent], None]


class BrokerUnavailable(Exception):
    """The broker cannot take this request now (disconnected, refused, port unsafe)."""


@runtime_checkable
class BrokerPort(Protocol):
    """What the engine needs from a venue. See the module table for required methods."""

    name: str

    def set_event_sink(self, sink: EventSink) -> None: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    async def submit(self, order: OrderRequest) -> None: ...

    async def cancel(self, order_ref: str) -> None: ...

    async def cancel_all(self) -> None: ...

    async def open_orders(self) -> list[BrokerOrder]: ...

    async def executions(self) -> list[BrokerExecution]: ...

    async def positions(self) -> list[BrokerPosition]: ...

    async def account(self) -> AccountSnapshot: ...

    async def subscribe_quotes(self, instrument: Instrument) -> None: ...


class SupportsCompletedOrders(Protocol):
    """Optional: brokers that can list today's finished orders."""

    async def completed_orders(self) -> list[BrokerOrder]: ...


class SupportsContractDetails(Protocol):
    """Optional: brokers that describe contracts (every real venue does)."""

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]: ...


class SupportsModify(Protocol):
    """Optional: brokers that modify a working order in place (confirmed by the broker)."""

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None: ...


class SupportsWhatIf(Protocol):
    """Optional: brokers that preview an order's margin and commission (IB whatIf)."""

    async def what_if(self, order: OrderRequest) -> MarginPreview: ...


class SupportsBars(Protocol):
    """Optional: brokers with historical bars and live 5-second bars."""

    async def historical_bars(self, instrument: Instrument, request: BarRequest) -> list[Bar]: ...

    async def subscribe_bars(self, instrument: Instrument) -> None: ...
