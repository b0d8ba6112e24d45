"""`deskgate promote`: refused without evidence, with a kill flag or open drift; approved by T2."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from console.cli import main
from contracts.enums import DriftSeverity, DriftType
from contracts.events import (
    AuditedEvent,
    DriftDetected,
    EngineStarted,
    KillFlagRaised,
    PromotionApproved,
    PromotionRefused,
    PromotionRequested,
    parse_event,
)
from engine.audit import AuditStore, open_read_only
from engine.book import Book
from engine.promotion import Stage, stage_of
from engine.replay import replay_into

NOW = datetime.now(UTC)


def data_dir_with(tmp_path: Path, *events: AuditedEvent) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    store = AuditStore(data / "acct-test.sqlite")
    store.append_durable(
        EngineStarted(ts_event=NOW, ts_init=NOW, mode="sim", broker="fake", voided_tokens=0)
    )
    for event in events:
        store.append_durable(event)
    store.close()
    return data


def write_sessions(data: Path, n: int = 20, regimes: tuple[str, ...] = ("TREND", "RANGE")) -> None:
    sessions = [
        {
            "strategy": "breakout",
            "day": (date(2026, 1, 5) + timedelta(days=i)).isoformat(),
            "regime": regimes[i % len(regimes)],
            "pnl": str(10 - i % 7),
            "max_drawdown_pct": "1.5",
            "sharpe": 1.1,
            "would_have_killed": i % 5 == 0,
            "decisions": 10,
            "overrides": 1,
        }
        for i in range(n)
    ]
    (data / "SHADOW_SESSIONS.json").write_text(json.dumps({"sessions": sessions}))


def promote(
    data: Path, monkeypatch: pytest.MonkeyPatch, typed: str = "breakout\n", *extra: str
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    argv = ["promote", "breakout", "--data-dir", str(data), "--requester", "quant"]
    return main([*argv, "--approver", "cto", *extra])


def beads(data: Path) -> list[AuditedEvent]:
    store = open_read_only(data / "acct-test.sqlite")
    try:
        return [parse_event(r.payload) for r in store.rows()]
    finally:
        store.close()


def stage(data: Path) -> Stage:
    book = Book()
    store = AuditStore(data / "acct-test.sqlite")
    replay_into(store, book)
    store.close()
    return stage_of(book, "breakout")


def refusals(data: Path) -> list[PromotionRefused]:
    return [e for e in beads(data) if isinstance(e, PromotionRefused)]


def test_refused_without_shadow_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = data_dir_with(tmp_path)
    assert promote(data, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "REFUSED" in out and "sessions: 0 of 20" in out
    assert any("sessions: 0 of 20" in r for r in refusals(data)[-1].reasons)
    assert stage(data) is Stage.SHADOW


def test_refused_with_a_kill_flag_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = KillFlagRaised(ts_event=NOW, ts_init=NOW, flag="stale_state", reason="test")
    data = data_dir_with(tmp_path, flag)
    write_sessions(data)
    assert promote(data, monkeypatch) == 1
    assert "kill flag active: stale_state" in capsys.readouterr().out
    assert not any(isinstance(e, PromotionRequested) for e in beads(data))
    assert stage(data) is Stage.SHADOW


def test_refused_with_a_drift_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    drift = DriftDetected(
        ts_event=NOW,
        ts_init=NOW,
        drift_id="d1",
        drift_type=DriftType.POSITION_SIZE,
        subject="AAPL",
        engine_state={"quantity": "10"},
        broker_state={"quantity": "0"},
        severity=DriftSeverity.HIGH,
    )
    data = data_dir_with(tmp_path, drift)
    write_sessions(data)
    assert promote(data, monkeypatch) == 1
    assert "1 unresolved reconciliation drift(s)" in capsys.readouterr().out
    assert stage(data) is Stage.SHADOW


def test_refused_when_the_typed_confirmation_does_not_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = data_dir_with(tmp_path)
    write_sessions(data)
    assert promote(data, monkeypatch, "breakuot\n") == 1
    assert "typed confirmation did not match" in refusals(data)[-1].reasons
    assert stage(data) is Stage.SHADOW


def test_refused_when_the_requester_approves_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = data_dir_with(tmp_path)
    write_sessions(data)
    monkeypatch.setattr("sys.stdin", io.StringIO("breakout\n"))
    argv = ["promote", "breakout", "--data-dir", str(data), "--requester", "quant"]
    assert main([*argv, "--approver", "quant"]) == 1
    assert any("own promotion" in r for r in refusals(data)[-1].reasons)
    assert stage(data) is Stage.SHADOW


def test_approved_with_evidence_and_a_typed_t2_approval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = data_dir_with(tmp_path)
    write_sessions(data)
    assert promote(data, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "evidence bundle: breakout" in out and "APPROVED" in out
    approved = [e for e in beads(data) if isinstance(e, PromotionApproved)]
    assert len(approved) == 1 and approved[0].approver == "cto" and approved[0].tier == "T2"
    request = next(e for e in beads(data) if isinstance(e, PromotionRequested))
    assert request.evidence["sessions"] == "20" and request.requester == "quant"
    assert stage(data) is Stage.LIVE
    assert promote(data, monkeypatch) == 1  # already LIVE: a second promotion is refused
