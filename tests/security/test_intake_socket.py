"""Attacks on the intake socket: other users, shared directories, floods of intents or clients."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from contracts.intent import Intent
from engine import intake
from engine.clock import ManualClock
from engine.intake import IntakeServer, send_intents
from engine.results import ProposalResult
from tests.support import make_intent

CLOCK = ManualClock()


class Proposals:
    """A propose callable that accepts everything and counts what reached it."""

    def __init__(self) -> None:
        self.seen: list[Intent] = []

    async def __call__(self, intent: Intent, source: str) -> ProposalResult:
        self.seen.append(intent)
        return ProposalResult(True, intent.intent_id, "waiting for approval")


def private_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    return directory


async def lines_from(path: Path, payload: bytes, count: int) -> list[dict]:  # type: ignore[type-arg]
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(payload)
    await writer.drain()
    replies = [json.loads(await reader.readline()) for _ in range(count)]
    writer.close()
    return replies


async def test_a_peer_of_another_uid_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposals = Proposals()
    server = IntakeServer(private_dir(tmp_path) / "intake.sock", proposals)
    await server.start()
    real_uid = os.getuid()
    monkeypatch.setattr(intake.os, "getuid", lambda: real_uid + 1)  # the server's user differs
    line = make_intent(CLOCK).model_dump_json().encode() + b"\n"
    (reply,) = await lines_from(server.path, line, 1)
    assert reply["ok"] is False and f"peer uid {real_uid}" in reply["message"]
    assert proposals.seen == []
    await server.stop()


async def test_propose_refuses_a_server_of_another_uid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposals = Proposals()
    server = IntakeServer(private_dir(tmp_path) / "intake.sock", proposals)
    await server.start()
    real_uid = os.getuid()
    original = os.getuid
    calls = iter([real_uid, real_uid + 1])  # directory check sees us; the peer check does not
    monkeypatch.setattr(intake.os, "getuid", lambda: next(calls, original()))
    with pytest.raises(ConnectionError) as info:
        await send_intents(server.path, [make_intent(CLOCK)])
    assert f"served by uid {real_uid}" in str(info.value)
    assert proposals.seen == []
    await server.stop()


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770, 0o722])
async def test_a_socket_in_a_directory_others_can_write_is_refused(
    tmp_path: Path, mode: int
) -> None:
    open_dir = tmp_path / "open-to-others"
    open_dir.mkdir()
    os.chmod(open_dir, mode)
    server = IntakeServer(open_dir / "intake.sock", Proposals())
    with pytest.raises(OSError, match="writable by others"):
        await server.start()
    assert not (open_dir / "intake.sock").exists()
    with pytest.raises(ConnectionError, match="writable by others"):
        await send_intents(open_dir / "intake.sock", [make_intent(CLOCK)])


async def test_a_flood_on_one_connection_is_rate_limited_not_queued(tmp_path: Path) -> None:
    proposals = Proposals()
    clock = ManualClock()  # frozen: no refill during the burst
    server = IntakeServer(private_dir(tmp_path) / "intake.sock", proposals, clock.monotonic)
    await server.start()
    flood = b"".join(make_intent(CLOCK).model_dump_json().encode() + b"\n" for _ in range(30))
    replies = await lines_from(server.path, flood, 30)
    assert len(proposals.seen) == intake.RATE_BURST
    limited = [r for r in replies if not r["ok"]]
    assert len(limited) == 30 - intake.RATE_BURST
    assert all("rate limit" in r["message"] for r in limited)
    more = b"".join(make_intent(CLOCK).model_dump_json().encode() + b"\n" for _ in range(10))
    replies = await lines_from(server.path, more, 10)
    assert sum(r["ok"] for r in replies) == 10  # a new connection has its own bucket
    await server.stop()


async def test_clients_beyond_the_cap_are_refused(tmp_path: Path) -> None:
    server = IntakeServer(private_dir(tmp_path) / "intake.sock", Proposals())
    await server.start()
    held = [
        await asyncio.open_unix_connection(str(server.path)) for _ in range(intake.MAX_CONNECTIONS)
    ]
    # Each held client proves it is being served before the next one connects.
    for reader, writer in held:
        writer.write(make_intent(CLOCK).model_dump_json().encode() + b"\n")
        assert json.loads(await reader.readline())["ok"] is True
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(make_intent(CLOCK).model_dump_json().encode() + b"\n")
    reply = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert reply["ok"] is False and "clients already connected" in reply["message"]
    writer.close()
    for _, w in held:
        w.close()
    await server.stop()
