"""One engine per data dir: a second console is refused by name, a kill -9 leaves no stale lock,
and a hang-up ends the console cleanly instead of killing it mid-flight."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.compose import StartupRefused, build_session
from contracts.config import Config
from tests.support import eventually, said_after_the_console

CONSOLE = (sys.executable, "-m", "console.cli", "--broker", "sim", "--no-demo")
SIM = Config.model_validate({"broker": {"kind": "sim"}, "intake": {"demo": False}})


def deskgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=120
    )


class ConsoleProcess:
    """`deskgate` on a pseudo-terminal (120x40), its screen output drained in a thread."""

    def __init__(self, data_dir: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.proc = subprocess.Popen(
            [*CONSOLE, "--data-dir", str(data_dir)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.screen = bytearray()
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.master, 65536):
                self.screen.extend(chunk)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        os.close(self.master)


@contextlib.asynccontextmanager
async def running_console(data_dir: Path) -> AsyncIterator[ConsoleProcess]:
    console = ConsoleProcess(data_dir)
    try:
        # the engine is up once `deskgate status` reports it connected (the control socket
        # answers from before the first frame; the engine starts right after that frame)
        await eventually(lambda: status_answers(data_dir, console), timeout=60, interval=0.2)
        yield console
    finally:
        console.stop()


def status_answers(data_dir: Path, console: ConsoleProcess) -> bool:
    if console.proc.poll() is not None:
        raise AssertionError(f"console exited early: {console.screen[-2000:]!r}")
    from console.control_client import ControlUnavailable, request

    try:
        reply = request(data_dir, {"command": "status"}, 5.0)
    except ControlUnavailable:
        return False
    return bool(reply.get("ok") and reply["status"]["connection"]["connected"])


async def test_a_second_session_on_the_same_data_dir_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    first = build_session(SIM, data_dir=tmp_path)
    try:
        with pytest.raises(StartupRefused) as refused:
            build_session(SIM, data_dir=tmp_path)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and "since" in message
        assert "deskgate status" in message and "deskgate kill" in message
    finally:
        await first.close()
    again = build_session(SIM, data_dir=tmp_path)  # released by a clean close
    await again.close()


async def test_a_second_console_on_the_same_data_dir_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    async with running_console(tmp_path) as first:
        second = await asyncio.to_thread(
            deskgate, "--broker", "sim", "--no-demo", "--data-dir", str(tmp_path)
        )
        assert second.returncode == 2
        said = said_after_the_console(second.stderr)  # the lock is taken behind the first frame
        assert len(said.strip().splitlines()) == 1, second.stderr
        assert f"pid {first.proc.pid}" in said and "Traceback" not in second.stderr
        assert "deskgate status" in said


async def test_a_lock_held_by_a_process_killed_with_sigkill_does_not_block(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from engine.instance_lock import InstanceLock; "
            "InstanceLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StartupRefused, match=f"pid {holder.pid}"):
            build_session(SIM, data_dir=tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    session = build_session(SIM, data_dir=tmp_path)  # the kernel dropped the flock
    await session.close()


async def test_a_hangup_ends_the_console_cleanly_and_releases_the_data_dir(
    tmp_path: Path,
) -> None:
    async with running_console(tmp_path) as console:
        console.proc.send_signal(signal.SIGHUP)
        code = await asyncio.to_thread(console.proc.wait, 60)
        # the default SIGHUP action kills the process (-1): nothing flushed, engine not stopped
        assert code == 0, bytes(console.screen[-2000:])
    stores = sorted((tmp_path / "sim").glob("*.sqlite"))
    assert len(stores) == 1
    verified = await asyncio.to_thread(deskgate, "audit", "--file", str(stores[0]), "verify")
    assert verified.returncode == 0, verified.stdout
    assert not (tmp_path / "control.sock").exists()  # the engine's clean stop removed it
    session = build_session(SIM, data_dir=tmp_path)
    await session.close()
