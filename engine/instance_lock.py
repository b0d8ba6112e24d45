"""One engine per data dir: an exclusive flock on `<data dir>/engine.lock`, naming its holder.

flock is tied to the open file description: the kernel releases it when the holder exits, even
after kill -9, so a stale lock file never blocks the next start. The file's text (pid and start
time) only serves the refusal message; the lock itself is the flock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "engine.lock"


class EngineAlreadyRunning(Exception):
    """Another engine holds the data dir; the message names it and the control commands."""


@dataclass(frozen=True)
class LockHolder:
    pid: int
    since: datetime


class InstanceLock:
    """Hold the data dir for this process until `release` (or until the process dies)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, now: datetime | None = None) -> None:
        """Take the lock or raise EngineAlreadyRunning (one line naming the holder)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise EngineAlreadyRunning(refusal(self.path.parent, holder)) from None
        except OSError:
            os.close(fd)
            raise
        started = now or datetime.now(UTC)
        record = json.dumps({"pid": os.getpid(), "since": started.isoformat()}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode(), 0)
        os.fchmod(fd, 0o600)
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the only descriptor drops the flock
        self._fd = None


def _read_holder(fd: int) -> LockHolder | None:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"null")
        return LockHolder(int(record["pid"]), datetime.fromisoformat(record["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refusal(data_dir: Path, holder: LockHolder | None) -> str:
    who = (
        f"pid {holder.pid}, running since {holder.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if holder
        else "its pid is not recorded yet"
    )
    return (
        f"another deskgate engine already runs on {data_dir} ({who}); "
        "see it with `deskgate status`, stop its trading with `deskgate kill`"
    )
