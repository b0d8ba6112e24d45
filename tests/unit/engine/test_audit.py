"""The audit store: hash chain, tamper detection, durable order path, refusal on bad disks."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.enums import AlertLevel, LifecycleState
from contracts.events import AlertRaised
from engine.audit import AuditStore, AuditUnavailable
from tests.support import approve_pending, make_intent, started_engine

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def alert(n: int) -> AlertRaised:
    return AlertRaised(ts_event=NOW, ts_init=NOW, level=AlertLevel.INFO, code="T", message=str(n))


def fill_the_disk(conn: sqlite3.Connection) -> None:
    """Cap the database at its size and fill every free page: SQLITE_FULL from now on."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 2}")
    conn.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for _ in range(10_000):
            conn.execute("INSERT INTO filler VALUES (zeroblob(512))")


def filled_store(path: Path, n: int = 10) -> AuditStore:
    store = AuditStore(path)
    for i in range(n):
        store.append(alert(i))
    store.flush()
    return store


def test_chain_verifies_and_survives_reopen(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite")
    store.close()
    again = AuditStore(tmp_path / "a.sqlite")
    again.append_durable(alert(99))
    report = again.verify()
    assert report.ok and report.checked == 11


def test_edited_row_is_reported(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite")
    store._conn.execute("UPDATE beads SET payload = replace(payload, '\"3\"', '\"4\"') WHERE seq=4")
    report = store.verify()
    assert not report.ok
    assert any("seq 4" in p and "edited" in p for p in report.problems)


def test_deleted_row_is_reported(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite")
    store._conn.execute("DELETE FROM beads WHERE seq=5")
    report = store.verify()
    assert any("seq 6" in p and "deleted" in p for p in report.problems)


def test_reordered_rows_are_reported(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite")
    c = store._conn
    c.execute("UPDATE beads SET seq = -1 WHERE seq = 3")
    c.execute("UPDATE beads SET seq = 3 WHERE seq = 4")
    c.execute("UPDATE beads SET seq = 4 WHERE seq = -1")
    report = store.verify()
    assert not report.ok


def test_export_is_json_lines_with_hashes(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite", 3)
    out = io.StringIO()
    assert store.export_jsonl(out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[0]["event"]["message"] == "0"


def test_durable_append_failure_keeps_the_chain_consistent(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.sqlite", 3)
    blocker = sqlite3.connect(str(tmp_path / "a.sqlite"))
    blocker.execute("BEGIN EXCLUSIVE")
    with pytest.raises(AuditUnavailable):
        store.append_durable(alert(100))
    blocker.rollback()
    blocker.close()
    store.append_durable(alert(101))
    assert store.verify().ok
    assert [json.loads(r.payload)["message"] for r in store.rows()][-1] == "101"


async def test_locked_database_means_no_order_is_sent(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    blocker = sqlite3.connect(str(tmp_path / "audit.sqlite"))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        result = await engine.approve(
            intent.intent_id, engine.pending_token(intent.intent_id) or ""
        )
    finally:
        blocker.rollback()
        blocker.close()
    assert not result.ok and result.code == "AUDIT_UNAVAILABLE"
    assert broker.submits == []
    assert engine.book.records[intent.intent_id].state is LifecycleState.REJECTED
    await engine.stop()


async def test_full_disk_means_no_order_is_sent(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    engine.store.flush()
    fill_the_disk(engine.store._conn)
    # Anything needing a new page now fails, as on a full disk: a large intent...
    big = make_intent(clock, intent_id="big")
    big = big.model_copy(
        update={
            "evidence": big.evidence.model_copy(
                update={"quality_breakdown": {f"factor_{i:03d}": 1.0 for i in range(400)}}
            )
        }
    )
    refused = await engine.propose(big)
    assert not refused.accepted and "audit store unavailable" in refused.message
    assert "big" not in engine.book.records  # nothing partial
    # ...and the order path, whose write-ahead batch is larger than any free space.
    for n in range(20):
        engine.alert(AlertLevel.INFO, "PAD", "x" * 900 + str(n))
    result = await approve_pending(engine, intent.intent_id)
    assert not result.ok and result.code == "AUDIT_UNAVAILABLE"
    assert broker.submits == []
    await engine.stop()


async def test_intent_is_durable_before_propose_returns(tmp_path: Path) -> None:
    engine, _, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    await engine.propose(intent)
    other = sqlite3.connect(str(tmp_path / "audit.sqlite"))
    row = other.execute(
        "SELECT intent_id FROM intents WHERE intent_id=?", (intent.intent_id,)
    ).fetchone()
    assert row == (intent.intent_id,)
    await engine.stop()


async def test_write_ahead_record_is_committed_before_the_broker_sees_the_order(
    tmp_path: Path,
) -> None:
    """The SUBMITTING bead is on disk when the broker is called; its `orders` row (an index
    of the bead) is not in that synced commit and follows with the store's next write."""
    engine, broker, clock = await started_engine(tmp_path)
    seen_at_submit: list[tuple[object, object]] = []
    real_submit = broker.submit

    def committed(order_ref: str) -> tuple[object, object]:
        other = sqlite3.connect(str(tmp_path / "audit.sqlite"))
        beads = [
            json.loads(payload)["request"]["order_ref"]
            for (payload,) in other.execute("SELECT payload FROM beads WHERE kind='SUBMITTING'")
        ]
        row = other.execute("SELECT order_ref FROM orders WHERE order_ref=?", (order_ref,))
        found = (beads, row.fetchone())
        other.close()
        return found

    async def spying_submit(order):  # type: ignore[no-untyped-def]
        seen_at_submit.append(committed(order.order_ref))
        await real_submit(order)

    broker.submit = spying_submit  # type: ignore[method-assign]
    intent = make_intent(clock)
    await engine.propose(intent)
    assert (await approve_pending(engine, intent.intent_id)).ok
    ref = f"dg:{intent.intent_id}:ENTRY"
    assert seen_at_submit == [([ref], None)]
    engine.recorder.flush()
    assert committed(ref) == ([ref], (ref,))
    await engine.stop()
