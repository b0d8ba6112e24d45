"""The control socket answers only its own uid (SO_PEERCRED on both ends), lives 0600 in the
0700 data dir, and refuses malformed or unknown requests in one line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contracts.enums import TradingState
from tests.support import FakeBroker, eventually, started_engine

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by another uid, unlike the project's venv
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists(),
    reason="acting as another uid needs root and a system python",
)

FOREIGN_CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
try:
    s.sendall(json.dumps({"command": sys.argv[2], "reason": "foreign"}).encode() + b"\\n")
except OSError:
    pass  # the server may hang up before reading: its one refusal line is still queued
print(s.recv(65536).decode().strip())
"""

FOREIGN_SERVER = """
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(4)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b'{"ok": true, "status": {"trading_state": "ACTIVE"}}\\n')
    c.close()
"""


@pytest.fixture
def shared() -> Iterator[Path]:
    """A careless directory every uid can reach (pytest's tmp dirs are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="dg-shared-"))
    directory.chmod(0o777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def served(tmp_path: Path, shared: Path) -> AsyncIterator[tuple[object, FakeBroker, Path]]:
    from engine.control import ControlServer

    engine, broker, _ = await started_engine(tmp_path / "engine")
    server = ControlServer(shared / "control.sock", engine)
    await server.start()
    try:
        yield engine, broker, shared / "control.sock"
    finally:
        await server.stop()
        await engine.stop()


async def ask(path: Path, request: bytes) -> dict[str, object]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(request + b"\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 20)
    writer.close()
    reply = json.loads(line)
    assert isinstance(reply, dict)
    return reply


@needs_root
async def test_a_peer_of_another_uid_cannot_kill_nor_read(
    served: tuple[object, FakeBroker, Path],
) -> None:
    engine, _, path = served
    path.chmod(0o666)  # even if the socket's own mode were loosened
    for command in ("kill", "status"):
        proc = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            "-c",
            FOREIGN_CLIENT,
            str(path),
            command,
            user=NOBODY,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert out.strip(), err
        reply = json.loads(out)
        assert reply["ok"] is False and "uid" in reply["message"], err
        assert "status" not in reply
    assert engine.snapshot().trading_state is TradingState.ACTIVE  # type: ignore[attr-defined]


@needs_root
def test_the_client_refuses_a_server_of_another_uid(shared: Path) -> None:
    server = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", FOREIGN_SERVER, str(shared / "control.sock")],
        user=NOBODY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        result = subprocess.run(
            [sys.executable, "-m", "console.cli", "status", "--data-dir", str(shared)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.kill()
        server.wait(timeout=30)
    assert result.returncode == 2
    assert f"uid {NOBODY}, not by you" in result.stderr
    assert "ACTIVE" not in result.stdout


async def test_the_socket_is_0600_and_serves_its_own_uid(
    served: tuple[object, FakeBroker, Path],
) -> None:
    _, _, path = served
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reply = await ask(path, b'{"command": "status"}')
    assert reply["ok"] is True and "status" in reply


async def test_malformed_and_unknown_requests_get_one_line_refusals(
    served: tuple[object, FakeBroker, Path],
) -> None:
    engine, _, path = served
    for request, expected in (
        (b"not json", "Expecting value"),
        (b"[1, 2]", "JSON object"),
        (b'{"command": "rm -rf"}', "unknown command"),
        (b'{"command": "kill", "reason": 7}', "reason must be text"),
        (b'{"command": "kill", "timeout_s": 1e999}', "timeout_s"),
    ):
        reply = await ask(path, request)
        assert reply["ok"] is False and expected in str(reply["message"]), reply
    assert engine.snapshot().trading_state is TradingState.ACTIVE  # type: ignore[attr-defined]


async def test_a_registered_command_is_served(tmp_path: Path) -> None:
    from engine.control import ControlServer

    engine, _, _ = await started_engine(tmp_path / "engine")
    server = ControlServer(tmp_path / "c.sock", engine)
    calls: list[dict[str, object]] = []

    async def limits_set(request: dict[str, object]) -> dict[str, object]:
        calls.append(request)
        return {"ok": True, "message": "set"}

    server.register("limits set", limits_set)
    await server.start()
    try:
        reply = await ask(tmp_path / "c.sock", b'{"command": "limits set", "key": "k"}')
        assert reply == {"ok": True, "message": "set"}
        await eventually(lambda: calls)
    finally:
        await server.stop()
        await engine.stop()
