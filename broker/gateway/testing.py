"""Test helpers: a started venue + gateway on an ephemeral loopback port, a raw client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from broker.gateway.codec import (
    Field,
    decode_fields,
    encode_fields,
    encode_message,
    frame,
    read_frame,
)
from broker.gateway.limits import GatewayLimits
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
    clock_speed: float = 1.0,
    limits: GatewayLimits | None = None,
) -> AsyncIterator[GatewayServer]:
    """Yield a started `GatewayServer` over a fresh seeded venue; stops it afterwards.

    Quotes only move when the test calls `server.venue.step()` (or live bars are subscribed),
    so runs are deterministic. `clock_start` runs the venue's clock from that moment,
    `clock_speed` times faster than real time (with a `clock_start` only).
    """
    scheduler = AsyncioScheduler(start=clock_start, speed=clock_speed)
    venue = SimVenue(seed, chaos, scheduler=scheduler)
    server = GatewayServer(
        venue,
        account=account,
        port=0,
        server_version=server_version,
        pacing=pacing,
        limits=limits,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class RawClient:
    """A bare TWS-protocol socket client: frames in, frames out, nothing interpreted."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, *fields: Field) -> None:
        self.writer.write(encode_message(fields))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def handshake(self, versions: str = "v157..178") -> list[str]:
        """`API\\0` and the version range; returns the server's (version, time) answer."""
        self.send_raw(b"API\0" + frame(encode_fields([versions])))
        return await self.next_frame()

    async def start_api(self, client_id: int = 1) -> None:
        self.send(71, 2, client_id, "")

    async def next_frame(self) -> list[str]:
        """The next frame's fields (fails after 3 s without one)."""
        return decode_fields(await asyncio.wait_for(read_frame(self.reader), 3.0))

    async def until(self, done: Callable[[list[str]], bool]) -> list[list[str]]:
        """Read frames until one satisfies `done(fields)`; returns them all."""
        frames = []
        while True:
            fields = await self.next_frame()
            frames.append(fields)
            if done(fields):
                return frames

    async def closed_by_peer(self, within: float = 3.0) -> bool:
        """Read until EOF; False if the server still holds the socket open after `within` s."""
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass  # a reset is a close too
        return True

    def close(self) -> None:
        self.writer.close()
