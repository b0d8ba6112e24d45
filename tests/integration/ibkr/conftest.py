"""Fixtures for the ibkr integration tests: an event recorder, `eventually`, the replay server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from contracts.broker import BrokerEvent
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
