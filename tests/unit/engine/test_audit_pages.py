"""Audit pages: any stretch of the store, newest first, flushed or not, one page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.enums import AlertLevel
from contracts.events import AlertRaised
from engine.audit import AuditStore, BeadRow
from engine.view import AUDIT_TAIL, bead_views
from tests.support import approve_pending, config_with, make_intent, started_engine

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def alert(n: int) -> AlertRaised:
    return AlertRaised(ts_event=NOW, ts_init=NOW, level=AlertLevel.INFO, code="T", message=str(n))


def test_a_page_is_the_beads_at_or_below_its_top_newest_first(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "a.sqlite")
    for i in range(120):
        store.append(alert(i))
    store.flush()
    assert [r.seq for r in store.page(50, 10)] == list(range(50, 40, -1))
    assert [r.seq for r in store.page(5, 10)] == [5, 4, 3, 2, 1]
    assert [r.seq for r in store.page(store.head_seq, 3)] == [120, 119, 118]
    store.close()


def test_a_page_includes_beads_not_yet_flushed(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "a.sqlite")
    for i in range(20):
        store.append(alert(i))
    store.flush()
    for i in range(3):
        store.append(alert(100 + i))  # still in the write batch
    assert [r.seq for r in store.page(store.head_seq, 5)] == [23, 22, 21, 20, 19]
    assert [r.seq for r in store.page(22, 2)] == [22, 21]
    assert [r.seq for r in store.page(20, 2)] == [20, 19]
    store.close()


async def test_a_snapshots_audit_tail_reads_only_the_beads_appended_since_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _, clock = await started_engine(tmp_path, config_with(max_trades_per_day=100))
    store = engine.store
    read: list[int] = []
    page = store.page

    def counted_page(top_seq: int, n: int) -> list[BeadRow]:
        rows = page(top_seq, n)
        read.extend(r.seq for r in rows)
        return rows

    monkeypatch.setattr(store, "page", counted_page)
    engine.snapshot()
    for k in range(3):
        read.clear()
        before = store.head_seq
        intent = make_intent(clock, quantity=1 + k)
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
        tail = engine.snapshot().audit_tail
        assert read == list(range(store.head_seq, before, -1))  # old code re-read 30
        assert tail == bead_views(store.tail(AUDIT_TAIL))
    for i in range(AUDIT_TAIL + 5):  # more than a tail since the last: read afresh
        store.append(alert(i))
    assert engine.snapshot().audit_tail == bead_views(store.tail(AUDIT_TAIL))
    store.append(alert(999))  # still in the write batch
    tail = engine.snapshot().audit_tail
    assert tail == bead_views(store.tail(AUDIT_TAIL))
    assert len(tail) == AUDIT_TAIL and tail[-1].seq == store.head_seq
    await engine.stop()
