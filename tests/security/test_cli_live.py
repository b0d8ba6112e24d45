"""Attack: a command that touches a live account runs with only two of the three live
confirmations (config + DESKGATE_LIVE_CONFIRM, but no account id typed at start-up)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCOUNT = "U7654321"


@pytest.fixture
def broker_port() -> Iterator[socket.socket]:
    """A loopback listener standing in for the live TWS: it only records who connects."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener


def connected(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def live_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        f'mode = "live"\naccount = "{ACCOUNT}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[broker]\nkind = "ibkr"\nhost = "127.0.0.1"\nport = {port}\nconnect_timeout_s = 1\n'
    )
    path.chmod(0o600)
    return path


def deskgate(tmp_path: Path, *args: str, typed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESKGATE_LIVE_CONFIRM": ACCOUNT, "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


VERBS = {
    "probe": ("probe", "--out", "ACCOUNT_CONFIG.json"),
    "rollback": ("rollback", "--reason", "drill"),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("typed", ["", "U0000000\n"], ids=["nothing typed", "wrong id typed"])
def test_live_verbs_need_the_account_id_typed_before_touching_the_broker(
    tmp_path: Path, broker_port: socket.socket, verb: str, typed: str
) -> None:
    config = live_config(tmp_path, broker_port.getsockname()[1])
    result = deskgate(tmp_path, *VERBS[verb], "--config", str(config), typed=typed)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "live mode needs the account id typed at start-up" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("deskgate: ")
    assert not connected(broker_port), f"`deskgate {verb}` reached the live broker"
    assert not (tmp_path / "ACCOUNT_CONFIG.json").exists()
    assert ACCOUNT not in result.stderr + result.stdout


def test_the_typed_account_id_lets_the_probe_reach_the_broker(
    tmp_path: Path, broker_port: socket.socket
) -> None:
    """The control: with all three confirmations the same command does connect."""
    config = live_config(tmp_path, broker_port.getsockname()[1])
    result = deskgate(tmp_path, *VERBS["probe"], "--config", str(config), typed=f"{ACCOUNT}\n")
    assert "live mode needs" not in result.stderr
    assert connected(broker_port)
