"""Attacks on the gateway socket: silent or half-sent peers, floods, huge frames, bad startApi."""

from __future__ import annotations

import asyncio
import gc
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from broker.gateway import GatewayLimits, GatewayServer, running_gateway
from broker.gateway.testing import RawClient
from tests.integration.gateway.conftest import eventually

QUICK = GatewayLimits(handshake_timeout=0.5, frame_timeout=0.3, max_connections=3)


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayServer]:
    async with running_gateway(seed=3, limits=QUICK) as server:
        yield server


async def ready_client(port: int, client_id: int = 1) -> RawClient:
    client = await RawClient.open(port)
    await client.handshake()
    await client.start_api(client_id)
    await client.until(lambda f: f[0] == "9")  # nextValidId: the session is live
    return client


async def test_a_peer_that_connects_and_says_nothing_is_dropped(gateway: GatewayServer) -> None:
    client = await RawClient.open(gateway.port)
    assert await client.closed_by_peer()
    await eventually(lambda: not gateway.sessions, what="the silent session to go")


async def test_a_peer_stalling_inside_the_handshake_is_dropped(gateway: GatewayServer) -> None:
    client = await RawClient.open(gateway.port)
    client.send_raw(b"API\0" + struct.pack(">I", 9) + b"v15")  # half the version frame
    assert await client.closed_by_peer()


async def test_a_half_sent_frame_is_dropped_after_the_api_started(gateway: GatewayServer) -> None:
    client = await ready_client(gateway.port)
    client.send_raw(struct.pack(">I", 40)[:2])  # two bytes of a header, then nothing
    assert await client.closed_by_peer()
    await eventually(lambda: not gateway.connected_clients(), what="the client to be detached")


async def test_an_idle_api_client_keeps_its_session(gateway: GatewayServer) -> None:
    client = await ready_client(gateway.port)
    await asyncio.sleep(QUICK.frame_timeout * 2)  # time passing is the point here
    client.send(49, 1)  # reqCurrentTime
    frames = await client.until(lambda f: f[0] == "49")
    assert frames[-1][0] == "49" and not client.reader.at_eof()


async def test_an_oversized_frame_closes_the_session_before_it_is_read(
    gateway: GatewayServer,
) -> None:
    client = await ready_client(gateway.port)
    client.send_raw(struct.pack(">I", 8 * 1024 * 1024) + b"x" * 65536)
    assert await client.closed_by_peer()
    await eventually(lambda: not gateway.sessions, what="the session and its buffer to go")


async def test_connections_beyond_the_cap_are_refused(gateway: GatewayServer) -> None:
    held = [await RawClient.open(gateway.port) for _ in range(QUICK.max_connections)]
    await eventually(lambda: len(gateway.sessions) == QUICK.max_connections, what="sessions")
    extra = await RawClient.open(gateway.port)
    assert await extra.closed_by_peer(within=0.2)  # before any handshake timeout
    assert gateway.refused_connections == 1
    for client in held:
        client.close()


@pytest.mark.parametrize("start_api", [(71, 2, "abc", ""), (71,), (71, 2)])
async def test_a_bad_start_api_leaves_no_unretrieved_task_exception(
    gateway: GatewayServer, start_api: tuple[object, ...]
) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        client = await RawClient.open(gateway.port)
        await client.handshake()
        client.send(*start_api)  # type: ignore[arg-type]
        assert await client.closed_by_peer()
        await eventually(lambda: not gateway.sessions, what="the session to end")
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == []
