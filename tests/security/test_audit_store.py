"""Attacks on the audit store: file modes, names, config trust, an honest read-only verify,
truncation, re-hashing, and the real cause on a full or read-only disk.

Tests run as root, where chmod does not stop writes: read-only media and a full disk are made
for real with a read-only bind mount and a tiny tmpfs."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.compose import audit_path
from contracts.config import Config
from contracts.enums import AlertLevel
from contracts.events import AlertRaised
from engine.audit import AuditStore, AuditUnavailable
from tests.support import said_after_the_console

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
LIVE_ACCOUNT = "U7654321"


def alert(n: int, size: int = 10) -> AlertRaised:
    return AlertRaised(
        ts_event=NOW, ts_init=NOW, level=AlertLevel.INFO, code="T", message=str(n) * size
    )


def filled_store(path: Path, n: int = 10) -> Path:
    store = AuditStore(path)
    for i in range(n):
        store.append_durable(alert(i))
    store.close()
    return path


def deskgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return deskgate("audit", "--file", str(path), "verify")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def mounted(directory: Path, *options: str) -> Iterator[None]:
    """A real mount over `directory` (root in the test box), always unmounted afterwards."""
    subprocess.run(["mount", *options, str(directory)], check=True)
    try:
        yield
    finally:
        if subprocess.run(["umount", str(directory)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], check=True)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o700)
        return
    with mounted(directory, "--bind", str(directory)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield


def snapshot_of(directory: Path) -> dict[str, tuple[int, str]]:
    return {
        p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(directory.iterdir())
    }


# --- private files ----------------------------------------------------------------------------


def test_data_dir_store_wal_shm_and_log_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    from console.compose import start_log

    store = AuditStore(data / "acct.sqlite")
    store.append_durable(alert(1))
    start_log(data)
    assert mode(data) == 0o700
    for name in ("acct.sqlite", "acct.sqlite-wal", "acct.sqlite-shm", "deskgate.log"):
        assert mode(data / name) == 0o600, name
    store.close()


def test_reports_written_by_the_cli_are_private(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "a.sqlite", 2)
    out = tmp_path / "export.jsonl"
    assert deskgate("audit", "--file", str(path), "export", "--out", str(out)).returncode == 0
    assert mode(out) == 0o600


def test_the_live_account_id_is_not_in_the_store_name(tmp_path: Path) -> None:
    config = Config.model_validate({"account": LIVE_ACCOUNT, "broker": {"kind": "ibkr"}})
    path = audit_path(config, tmp_path, False, LIVE_ACCOUNT)
    assert LIVE_ACCOUNT not in str(path)


def test_an_existing_store_named_after_the_account_is_renamed_with_its_beads(
    tmp_path: Path,
) -> None:
    from console.compose import store_name

    filled_store(tmp_path / f"{LIVE_ACCOUNT}.sqlite", 3)
    config = Config.model_validate({"account": LIVE_ACCOUNT, "broker": {"kind": "ibkr"}})
    path = audit_path(config, tmp_path, False, LIVE_ACCOUNT)
    assert path.name == f"{store_name(LIVE_ACCOUNT)}.sqlite"
    assert not list(tmp_path.glob(f"{LIVE_ACCOUNT}*"))
    store = AuditStore(path)
    assert store.head_seq == 3
    store.close()


def test_a_config_writable_by_group_or_others_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text('[broker]\nkind = "sim"\n')
    config.chmod(0o664)
    result = deskgate("audit", "--config", str(config), "--data-dir", str(tmp_path), "verify")
    assert result.returncode == 2
    assert "writable by group or others" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- verify is read-only and honest ----------------------------------------------------------


def test_verify_works_on_read_only_media_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "media"
    path = filled_store(data / "a.sqlite", 5)
    before = snapshot_of(data)
    with read_only(data):
        result = verify(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 beads checked, hash chain ok" in result.stdout
    assert snapshot_of(data) == before


def test_verify_of_an_empty_file_fails_and_leaves_it_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    result = verify(path)
    assert result.returncode == 1
    assert "hash chain ok" not in result.stdout
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]


def test_verify_of_a_database_without_beads_table_fails(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    result = verify(path)
    assert result.returncode == 1 and "no beads table" in result.stdout


def test_verify_of_a_store_with_zero_beads_fails(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    AuditStore(path).close()
    result = verify(path)
    assert result.returncode == 1 and "no beads" in result.stdout


def test_deleting_the_newest_five_beads_fails_verify(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "a.sqlite", 12)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM beads WHERE seq > 7")
    conn.commit()
    conn.close()
    result = verify(path)
    assert result.returncode == 1
    assert "truncated" in result.stdout


def test_the_engine_refuses_to_append_to_a_truncated_store(tmp_path: Path) -> None:
    """Appending would overwrite the evidence of the truncation with new beads."""
    path = filled_store(tmp_path / "a.sqlite", 12)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM beads WHERE seq > 7")
    conn.commit()
    conn.close()
    with pytest.raises(AuditUnavailable, match="truncated"):
        AuditStore(path)


def test_an_edit_rehashed_with_the_public_recipe_fails_verify(tmp_path: Path) -> None:
    """The attacker edits seq 4 and recomputes every later hash with plain SHA-256."""
    path = filled_store(tmp_path / "a.sqlite", 8)
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT seq, ts, kind, payload, prev_hash FROM beads ORDER BY seq"
    ).fetchall()
    prev = rows[3][4]
    for seq, ts, kind, payload, _ in rows[3:]:
        if seq == 4:
            payload = payload.replace('"3"', '"9"')
        h = hashlib.sha256()
        for part in (prev, str(seq), ts, kind, payload):
            h.update(part.encode())
            h.update(b"\x1f")
        digest = h.hexdigest()
        conn.execute(
            "UPDATE beads SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (payload, prev, digest, seq),
        )
        prev = digest
    conn.commit()
    conn.close()
    result = verify(path)
    assert result.returncode == 1
    assert "seq 4" in result.stdout


# --- the real cause of a refused write -------------------------------------------------------


def test_a_full_disk_is_named_as_the_cause(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount (root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted(disk, "-t", "tmpfs", "-o", "size=256k", "tmpfs"):
        store = AuditStore(disk / "a.sqlite")
        with pytest.raises(AuditUnavailable) as refused:
            for i in range(1000):
                store.append_durable(alert(i, size=2000))
        store._conn.close()
        store._anchor_file.close()
    assert "full" in str(refused.value)
    assert "no transaction is active" not in str(refused.value)


def test_a_read_only_data_dir_at_start_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with read_only(data):
        result = deskgate("--broker", "sim", "--no-demo", "--data-dir", str(data))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    said = said_after_the_console(result.stderr)  # the data dir is checked behind the first frame
    assert len(said.strip().splitlines()) == 1, result.stderr
    assert "not writable" in said or "read-only" in said
