"""Fixtures: a running gateway per test and a factory for connected ib_async clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from ib_async import IB, Contract, Stock

from broker.gateway import GatewayServer, running_gateway

ACCOUNT = "DU7777777"
Connect = Callable[..., Awaitable[IB]]


async def eventually(
    predicate: Callable[[], object], timeout: float = 3.0, what: str = "condition"
) -> None:
    """Poll `predicate` until it is truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Errors:
    """Every errorEvent an IB client saw: (reqId, code, message)."""

    seen: list[tuple[int, int, str]] = field(default_factory=list)

    def __call__(self, req_id: int, code: int, message: str, contract: object) -> None:
        self.seen.append((req_id, code, message))

    def codes(self, req_id: int | None = None) -> list[int]:
        return [c for r, c, _ in self.seen if req_id is None or r == req_id]


def aapl() -> Contract:
    return Stock("AAPL", "SMART", "USD")


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayServer]:
    async with running_gateway(seed=11, account=ACCOUNT) as server:
        yield server


@pytest.fixture
async def connect(gateway: GatewayServer) -> AsyncIterator[Connect]:
    clients: list[IB] = []

    async def _connect(client_id: int = 1, errors: Errors | None = None) -> IB:
        ib = IB()
        if errors is not None:
            ib.errorEvent += errors
        clients.append(ib)
        await ib.connectAsync(
            "127.0.0.1", gateway.port, clientId=client_id, timeout=3, raiseSyncErrors=True
        )
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()
