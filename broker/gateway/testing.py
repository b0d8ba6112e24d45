"""Test helpers: a started venue + gateway on an ephemeral loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from broker.gateway.pacing import PacingPolicy
from broker.gateway.server import GatewayServer
from broker.sim.scheduler import AsyncioScheduler
from broker.sim.venue import SimVenue
from contracts.enums import ChaosMode


@asynccontextmanager
async def running_gateway(
    seed: int = 7,
    chaos: ChaosMode = ChaosMode.INSTANT,
    account: str = "DU1234567",
    *,
    server_version: int = 176,
    pacing: PacingPolicy | None = None,
    clock_start: datetime | None = None,
) -> AsyncIterator[GatewayServer]:
    """Yield a started `GatewayServer` over a fresh seeded venue; stops it afterwards.

    Quotes only move when the test calls `server.venue.step()` (or live bars are subscribed),
    so runs are deterministic. `clock_start` runs the venue's clock from that moment.
    """
    venue = SimVenue(seed, chaos, scheduler=AsyncioScheduler(start=clock_start))
    server = GatewayServer(
        venue, account=account, port=0, server_version=server_version, pacing=pacing
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
