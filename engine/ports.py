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

Events delivered: BrokerConnected, BrokerDisconnected, ConnectivityChanged, DataFarmStatus,
OrderAccepted, OrderFilled, CommissionReported, OrderCancelled, OrderRejected,
CancelRejected, ModifyRejected, PacingViolation, BrokerNotice, QuoteUpdated, AccountUpdated,
PositionUpdated (all in `contracts.broker`).
"""

from __future__ import annotations

from collections.abc import Callable
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
