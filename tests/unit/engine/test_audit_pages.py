"""Audit pages: any stretch of the store, newest first, flushed or not, one page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from contracts.enums import AlertLevel
from contracts.events import AlertRaised
from engine.audit import AuditStore

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
