"""A crash between the synced write-ahead record and the send never resends (issue 16)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from contracts.enums import LifecycleState
from engine import crashpoints
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, make_intent, started_engine


class Crash(BaseException):
    """Stands in for SIGKILL at a crash point."""


async def test_a_crash_after_the_synced_write_ahead_and_before_the_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    for task in engine._tasks:
        task.cancel()
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    reached: list[str] = []

    def die_before_the_send(name: str) -> None:
        reached.append(name)
        if name == "write_ahead_synced":
            raise Crash

    monkeypatch.setattr(crashpoints, "hit", die_before_the_send)
    with pytest.raises(Crash):
        await approve_pending(engine, intent.intent_id)
    monkeypatch.undo()
    assert reached == ["write_ahead_synced"] and broker.submits == []
    # The write-ahead is on disk (synced) although nothing was sent.
    conn = sqlite3.connect(str(tmp_path / "audit.sqlite"))
    kinds = [
        k
        for (k,) in conn.execute("SELECT kind FROM beads WHERE intent_id = ?", (intent.intent_id,))
    ]
    conn.close()
    assert "SUBMITTING" in kinds
    engine.store.close()

    broker2 = FakeBroker(clock)
    restarted = Engine(engine.config, broker2, data_dir=tmp_path, clock=clock)
    await restarted.start()
    rec = restarted.book.records[intent.intent_id]
    assert rec.state is LifecycleState.CANCELLED  # not at the broker: closed, never resent
    assert broker2.submits == []
    await restarted.stop()
