"""The write-ahead stays synced before the order leaves; only the head anchor's sync waits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.enums import AlertLevel
from contracts.events import AlertRaised
from engine import audit, audit_anchor
from engine.audit import AuditStore, AuditUnavailable
from engine.audit_anchor import Anchor, AnchorFile, load_key, read_anchor
from tests.support import approve_pending, eventually, make_intent, started_engine


def alert(n: int) -> AlertRaised:
    now = datetime.now(UTC)
    return AlertRaised(ts_event=now, ts_init=now, level=AlertLevel.INFO, code="T", message=str(n))


def anchor_of(store_path: Path) -> Anchor | None:
    key = load_key(store_path)
    assert key is not None
    return read_anchor(store_path, key)


def test_a_crash_before_the_deferred_anchor_keeps_the_bead_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    store = AuditStore(path)
    store.append_durable(alert(1))
    seq = store.append_durable(alert(2), write_ahead=True)
    anchored = anchor_of(path)
    assert anchored is not None and anchored.seq == seq - 1  # lags by one commit, never leads
    store._conn.close()  # the process dies here: no flush, no anchor
    store._anchor_file.close()
    reopened = AuditStore(path)  # refuses a store whose head is older than its anchor
    assert reopened.head_seq == seq
    assert reopened.verify().ok
    reopened.close()


def test_the_next_write_or_sync_writes_the_due_anchor(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    store = AuditStore(path)
    seq = store.append_durable(alert(1), write_ahead=True)
    store.sync_anchor()
    assert anchor_of(path) == Anchor(seq, store.tail(1)[0].hash, 1)
    seq = store.append_durable(alert(2), write_ahead=True)
    store.close()
    reopened = AuditStore(path)
    assert reopened.verify().ok and anchor_of(path) == Anchor(seq, reopened.tail(1)[0].hash, 1)
    reopened.close()


def test_the_flusher_writes_a_due_anchor_when_no_bead_followed(tmp_path: Path) -> None:
    """An order's write-ahead is often the newest bead for a while: the flusher's empty flush
    still writes its anchor, so the anchor lags by one flush period at most."""
    path = tmp_path / "a.sqlite"
    store = AuditStore(path)
    seq = store.append_durable(alert(1), write_ahead=True)
    assert store.pending == 0
    store.flush()
    anchored = anchor_of(path)
    assert anchored is not None and anchored.seq == seq
    store.close()


class RefusingAnchor:
    """The anchor file on a disk that has stopped taking writes."""

    def write(self, key: bytes, anchor: Anchor) -> None:
        raise OSError(5, "Input/output error")

    def close(self) -> None:
        pass


async def test_the_order_leaves_after_its_synced_write_ahead_and_the_anchor_follows(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    store = engine.store
    seen_at_submit: list[tuple[int, int | None]] = []
    real_submit = broker.submit

    async def submit(order):  # type: ignore[no-untyped-def]
        committed = store._conn.execute("SELECT MAX(seq) FROM beads").fetchone()[0]
        kinds = [r.kind for r in store.rows(committed - 1)]
        assert "SUBMITTING" in kinds  # the write-ahead is committed before it leaves
        anchored = anchor_of(store.path)
        seen_at_submit.append((committed, anchored.seq if anchored else None))
        await real_submit(order)

    broker.submit = submit  # type: ignore[method-assign]
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    (committed, anchored_then), *_ = seen_at_submit
    assert anchored_then is not None and anchored_then < committed

    def anchored_past_the_write_ahead() -> bool:
        anchored = anchor_of(store.path)
        return anchored is not None and anchored.seq >= committed

    await eventually(anchored_past_the_write_ahead)  # the flusher writes it once it has left
    await engine.stop()


async def test_an_anchor_refused_after_the_send_raises_a_critical_alert(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    engine.store._anchor_file = RefusingAnchor()  # type: ignore[assignment]
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert broker.submits  # the write-ahead was on disk: the order left
    await eventually(
        lambda: any(
            a.level is AlertLevel.CRITICAL and "anchor" in a.message
            for a in engine.snapshot().alerts
        )
    )
    engine.store._anchor_file = AnchorFile(engine.store.path)  # the disk is back
    await engine.stop()


async def test_the_anchor_sync_never_blocks_the_event_loop(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A slow anchor disk must not hold the loop (and the order's acknowledgement) hostage."""
    engine, broker, clock = await started_engine(tmp_path)
    release = threading.Event()
    syncing = threading.Event()
    synced_on: list[str] = []

    def slow_fdatasync(fd: int) -> None:
        synced_on.append(threading.current_thread().name)
        syncing.set()
        release.wait(5)

    monkeypatch.setattr(audit_anchor.os, "fdatasync", slow_fdatasync)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert broker.submits and syncing.wait(5)  # the anchor's sync is under way meanwhile
    release.set()
    await engine.stop()
    assert synced_on and threading.main_thread().name not in synced_on


def test_settle_waits_for_the_anchor_sync_and_names_a_refused_one(
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """`settle` returns once the background sync is done; a sync the disk refused is raised as
    AuditUnavailable naming the anchor, not swallowed (a benchmark's quiet disk is a real one)."""
    store = AuditStore(tmp_path / "s.sqlite")
    release = threading.Event()
    done: list[int] = []

    def slow_fdatasync(fd: int) -> None:
        release.wait(5)
        done.append(fd)

    monkeypatch.setattr(audit_anchor.os, "fdatasync", slow_fdatasync)
    store.append(alert(1))
    store.flush()
    threading.Timer(0.05, release.set).start()
    store.settle()
    assert done  # settle returned only after the sync ran

    def refused(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audit_anchor.os, "fdatasync", refused)
    store.append(alert(2))
    store.flush()
    with pytest.raises(AuditUnavailable, match=r"head anchor .*\.head refused the sync"):
        store.settle()
    monkeypatch.undo()
    store.close()


async def test_a_refused_background_anchor_sync_raises_a_critical_alert(
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """The refusal surfaces at the next anchor write: the flusher's (one CRITICAL alert) or the
    next order's; meanwhile a durable write (a new proposal) is refused, never half-recorded."""
    engine, _, clock = await started_engine(tmp_path)

    def refused(fd: int) -> None:
        raise OSError(5, "Input/output error")

    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    monkeypatch.setattr(audit_anchor.os, "fdatasync", refused)
    assert (await approve_pending(engine, intent.intent_id)).ok
    codes = {"AUDIT_FLUSH"}
    await eventually(
        lambda: any(
            a.code in codes and a.level is AlertLevel.CRITICAL for a in engine.snapshot().alerts
        )
    )
    monkeypatch.undo()
    engine.store._anchor_file = AnchorFile(engine.store.path)  # the disk is back
    again = make_intent(clock, quantity=2)
    assert (await engine.propose(again)).accepted  # proposals are recorded again
    await engine.stop()


async def test_the_flusher_raises_one_critical_alert_while_the_store_refuses(
    tmp_path: Path,
) -> None:
    engine = (await started_engine(tmp_path))[0]
    engine.store._anchor_file = RefusingAnchor()  # type: ignore[assignment]
    for n in range(3):
        engine.recorder.alert(AlertLevel.INFO, "T", f"queued {n}")  # something to flush
        engine.recorder.periodic_flush()
    refusals = [a for a in engine.snapshot().alerts if a.code == "AUDIT_FLUSH"]
    assert [a.level for a in refusals] == [AlertLevel.CRITICAL]  # once, not every 100 ms
    engine.store._anchor_file = AnchorFile(engine.store.path)  # the disk is back
    engine.recorder.periodic_flush()
    assert [a.message for a in engine.snapshot().alerts if a.code == "AUDIT_FLUSH"][-1] == (
        "audit store writes again"
    )
    await engine.stop()


def test_no_checkpoint_runs_inside_a_write_ahead_commit(tmp_path: Path) -> None:
    """SQLite checkpoints inside the commit that takes its log past 1,000 pages: copying the log
    into the database and syncing it took 30-300 ms on a slow disk, and an order whose
    write-ahead drew it waited that long to leave. The write-ahead commit only appends; the
    next ordinary write runs the checkpoint, and nothing is lost either way."""
    path = tmp_path / "a.sqlite"
    store = AuditStore(path)
    store.append_durable(alert(0))
    before = path.stat().st_size
    page = 4096
    big = AlertRaised(
        ts_event=datetime.now(UTC),
        ts_init=datetime.now(UTC),
        level=AlertLevel.INFO,
        code="T",
        message="x" * (2 * page),
    )
    wal = path.with_name(path.name + "-wal")
    heads = [store.append_durable(big, write_ahead=True) for _ in range(450)]  # 3 pages each
    assert wal.stat().st_size > audit.CHECKPOINT_PAGES * page, "the write-aheads are all logged"
    assert path.stat().st_size == before, "a write-ahead commit checkpointed the log"
    store.flush()  # the ordinary write after the order left: it runs the checkpoint
    assert path.stat().st_size > before + 450 * 2 * page
    log = wal.stat().st_size
    store.append_durable(alert(1))  # the log was checkpointed whole: it restarts at its start
    assert wal.stat().st_size == log
    store.close()
    reopened = AuditStore(path)
    assert reopened.head_seq == heads[-1] + 1 and reopened.verify().ok
    reopened.close()
