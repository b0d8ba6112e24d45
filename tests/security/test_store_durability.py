"""The store's durability settings: WAL with synchronous=FULL, on every connection it opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.audit import AuditStore


def test_the_store_runs_wal_with_synchronous_full(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "a.sqlite")
    try:
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    # WAL is a property of the file: any later reader sees it too
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
