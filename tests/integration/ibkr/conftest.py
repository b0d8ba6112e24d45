"""Fixtures for the ibkr integration tests: an event recorder, `eventually`, the gateway rig."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import pytest

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr import IbkrBroker
from contracts.broker import (
    BrokerEvent,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRequest,
)
from contracts.enums import OrderType, Side
from contracts.intent import Instrument
from engine.clock import ManualClock
from tests.integration.ibkr.replay import ReplayServer

E = TypeVar("E")


class Recorder:
    """An event sink that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[BrokerEvent] = []

    def __call__(self, event: BrokerEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


async def eventually(
    condition: Callable[[], object], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class FastSleep:
    """A sleep for the reconnect loop: records the asked delays, moves the manual clock by
    them, and waits only a moment of real time."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.delays: list[float] = []
        self.gate = asyncio.Event()
        """Clear it to hold the reconnect loop in its next sleep (set it to let it go)."""
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)
        await self.gate.wait()
        await asyncio.sleep(0.01)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def replay() -> AsyncIterator[ReplayServer]:
    server = ReplayServer()
    await server.start()
    yield server
    await server.stop()


AAPL = Instrument(symbol="AAPL", primary_exchange="NASDAQ")
CLIENT_ID = 11


@dataclass
class Rig:
    gateway: GatewayServer
    broker: IbkrBroker
    events: Recorder
    clock: ManualClock
    sleep: FastSleep

    def accepted(self, ref: str) -> OrderAccepted | None:
        return next((e for e in self.events.of(OrderAccepted) if e.order_ref == ref), None)

    def cancelled(self, ref: str) -> list[OrderCancelled]:
        return [e for e in self.events.of(OrderCancelled) if e.order_ref == ref]

    def fills(self, ref: str) -> list[OrderFilled]:
        return [e for e in self.events.of(OrderFilled) if e.order_ref == ref]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with running_gateway() as gateway:
        clock = ManualClock()
        sleep = FastSleep(clock)
        broker = IbkrBroker(
            "127.0.0.1",
            gateway.port,
            CLIENT_ID,
            connect_timeout_s=5,
            clock=clock,
            sleep=sleep,
        )
        events = Recorder()
        broker.set_event_sink(events)
        await broker.connect()
        try:
            yield Rig(gateway, broker, events, clock, sleep)
        finally:
            await broker.disconnect()


def limit(ref: str, price: str = "150.00", qty: int = 100, side: Side = Side.BUY) -> OrderRequest:
    """A limit order far from the market (AAPL starts at 189.50): it rests."""
    return OrderRequest(
        order_ref=ref,
        instrument=AAPL,
        side=side,
        quantity=Decimal(qty),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(price),
    )


def market(ref: str, qty: int = 100, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        order_ref=ref,
        instrument=AAPL,
        side=side,
        quantity=Decimal(qty),
        order_type=OrderType.MARKET,
    )
