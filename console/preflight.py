"""What `deskgate` checks before it builds its engine: live confirmation, data dir, lock."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from contracts.config import Config
from contracts.enums import Mode
from engine.instance_lock import EngineAlreadyRunning, InstanceLock

LIVE_CONFIRM_ENV = "DESKGATE_LIVE_CONFIRM"


class StartupRefused(Exception):
    """The session must not start (e.g. live mode without every confirmation)."""


def live_confirmation(config: Config, environ: dict[str, str] | None = None) -> str | None:
    """In live mode, the account confirmed by config + environment (the typed check follows)."""
    if config.mode is not Mode.LIVE:
        return None
    env = os.environ if environ is None else environ
    confirmed = env.get(LIVE_CONFIRM_ENV, "")
    if not config.account:
        raise StartupRefused('live mode needs `account = "U..."` in the config')
    if confirmed != config.account:
        raise StartupRefused(f"live mode needs {LIVE_CONFIRM_ENV} set to the configured account id")
    return config.account


def audit_unavailable(message: str) -> Exception:
    """engine.audit's AuditUnavailable (imported only to refuse: it loads the event models)."""
    from engine.audit import AuditUnavailable

    return AuditUnavailable(message)


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir 0700 (closing an existing one); AuditUnavailable when not writable."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if data_dir.stat().st_mode & 0o077:
            data_dir.chmod(0o700)
        if not os.access(data_dir, os.W_OK):
            raise OSError(30, "read-only")
    except OSError as exc:
        raise audit_unavailable(
            f"data dir {data_dir} is not writable ({exc.strerror or exc}): deskgate refuses to "
            "trade without its audit store; choose another with --data-dir"
        ) from None


def hold_data_dir(data_dir: Path) -> InstanceLock:
    """The data dir prepared and held for this process; StartupRefused naming the holder."""
    prepare_data_dir(data_dir)
    lock = InstanceLock(data_dir)
    try:
        lock.acquire()
    except EngineAlreadyRunning as exc:
        raise StartupRefused(str(exc)) from None
    return lock


def start_log(data_dir: Path) -> None:
    """Log to `<data dir>/deskgate.log`, 0600; refuses in one line when the dir is not writable."""
    prepare_data_dir(data_dir)
    path = data_dir / "deskgate.log"
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        path.chmod(0o600)
    except OSError as exc:
        raise audit_unavailable(f"cannot write the log {path}: {exc.strerror or exc}") from None
    logging.basicConfig(
        filename=str(path),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
