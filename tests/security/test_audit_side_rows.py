"""An order's write-ahead commit holds its beads only; the side tables (intents, orders, fills,
tokens, drift) follow with the next write. A crash in between must not leave them short, and a
store whose unindexed beads do not parse is refused with one line, not indexed half-way."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.enums import AlertLevel
from contracts.events import AlertRaised, TokenUsed
from engine.audit import AuditStore, AuditUnavailable
from engine.audit_tables import SIDE_TABLES
from tests.support import approve_pending, make_intent, managed_bracket, started_engine


def alert(n: int) -> AlertRaised:
    now = datetime.now(UTC)
    return AlertRaised(ts_event=now, ts_init=now, level=AlertLevel.INFO, code="T", message=str(n))


INDEXES = [name for name in SIDE_TABLES if name != "side_rows_through"]


def side_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(str(path))
    try:
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"')) for name in INDEXES}
    finally:
        conn.close()


def watermark(path: Path) -> int:
    conn = sqlite3.connect(str(path))
    try:
        return int(conn.execute("SELECT seq FROM side_rows_through").fetchone()[0])
    finally:
        conn.close()


def crash_image(store: Path, into: Path) -> Path:
    """The store's files as a crash at this instant leaves them (the WAL holds the commits)."""
    into.mkdir()
    for f in store.parent.glob(store.name + "*"):
        if not f.name.endswith("-shm"):
            shutil.copy2(f, into / f.name)
    return into / store.name


async def test_a_crash_as_the_order_leaves_loses_no_side_row(tmp_path: Path) -> None:
    """At the submit the order's `orders` row and its used token's row are not on disk yet (the
    synced commit is the chain alone); a store reopened from that instant writes them before
    anything else, identical to the rows the running engine writes at its next flush."""
    engine, broker, clock = await started_engine(tmp_path / "live")
    store_path = engine.store.path
    images: list[Path] = []
    real_submit = broker.submit

    async def crash_at_submit(order):  # type: ignore[no-untyped-def]
        images.append(crash_image(store_path, tmp_path / "crashed"))
        await real_submit(order)

    broker.submit = crash_at_submit  # type: ignore[method-assign]
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    await engine.stop()
    (image,) = images
    ref = f"dg:{intent.intent_id}:ENTRY"
    at_the_crash = side_tables(image)
    assert not any(row[0] == ref for row in at_the_crash["orders"])
    assert "USED" not in {row[2] for row in at_the_crash["tokens"]}
    reopened = AuditStore(image)
    head = reopened.head_seq
    assert reopened.verify().ok
    reopened.close()
    repaired = side_tables(image)
    assert [row[0] for row in repaired["orders"]] == [ref]
    assert [row[2] for row in repaired["tokens"]] == ["USED"]
    assert watermark(image) == head
    live = side_tables(store_path)
    assert repaired["orders"] == live["orders"] and repaired["tokens"] == live["tokens"]
    assert repaired["intents"] == live["intents"]


async def test_side_tables_rebuilt_from_the_beads_match_the_ones_written_live(
    tmp_path: Path,
) -> None:
    """Every kind with a side row (intent, tokens, orders, fills), written again from the beads
    after the watermark, gives the same rows: a repair never doubles or changes a row."""
    engine, broker, clock = await started_engine(tmp_path)
    await managed_bracket(engine, broker, clock)
    rejected = make_intent(clock, quantity=3)
    assert (await engine.propose(rejected)).accepted
    assert (await engine.reject(rejected.intent_id, "not now")).ok
    await engine.stop()
    path = engine.store.path
    written_live = side_tables(path)
    assert all(written_live[name] for name in ("intents", "orders", "fills", "tokens"))
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE side_rows_through SET seq = 0")
    for name in ("intents", "orders", "fills", "tokens"):
        conn.execute(f'DELETE FROM "{name}" WHERE rowid % 2 = 0')  # half lost, half kept
    conn.commit()
    conn.close()
    AuditStore(path).close()
    assert side_tables(path) == written_live


def test_an_unparseable_bead_after_the_watermark_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    AuditStore(path).close()
    conn = sqlite3.connect(str(path))
    conn.execute(
        "INSERT INTO beads VALUES (1, '2026-12-01T00:00:00+00:00', 'TOKEN_USED', 'it-1', "
        "'{\"kind\": \"TOKEN_USED\"}', '', '')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(AuditUnavailable) as refused:
        AuditStore(path)
    message = str(refused.value)
    assert "\n" not in message
    assert "bead 1 (TOKEN_USED) does not parse" in message and "audit verify" in message


def test_a_store_written_before_the_watermark_is_taken_as_indexed(tmp_path: Path) -> None:
    """Stores from before wrote every side row with its bead: opening one starts the watermark
    at its head and indexes nothing again."""
    path = tmp_path / "audit.sqlite"
    store = AuditStore(path)
    for n in range(3):
        store.append_durable(alert(n))
    store.close()
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE side_rows_through")
    conn.commit()
    conn.close()
    AuditStore(path).close()
    assert watermark(path) == 3


class RefusingConnection:
    """The store's connection on a dead disk: every write transaction is refused."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("BEGIN"):
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction


def test_side_rows_a_dead_disk_refused_stay_due_until_it_is_back(tmp_path: Path) -> None:
    """The write after an order's write-ahead (its side rows, the checkpoint it held back) is
    refused: nothing is dropped; the flush once the disk is back writes them, checkpoints on."""
    path = tmp_path / "audit.sqlite"
    store = AuditStore(path)
    now = datetime.now(UTC)
    used = TokenUsed(ts_event=now, ts_init=now, intent_id="it-1", token_id="tk-1")
    seq = store.append_durable(used, write_ahead=True)
    live = store._conn
    store._conn = RefusingConnection(live)  # type: ignore[assignment]
    with pytest.raises(AuditUnavailable, match="disk I/O error"):
        store.flush()
    store._conn = live  # the disk is back
    assert live.execute("SELECT token_id FROM tokens").fetchall() == []
    store.flush()
    assert live.execute("SELECT token_id, status FROM tokens").fetchall() == [("tk-1", "USED")]
    assert live.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    store.close()
    assert watermark(path) == seq
