"""Promotion chaos vectors: bypass, partial evidence, veto by kill flag (and by HALTED)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from contracts.events import KillFlagRaised
from engine.engine import Engine
from engine.promotion import EvidenceBundle, SessionRecord, Stage
from tests.support import started_engine


def bundle(n: int = 20, regimes: tuple[str, ...] = ("NORMAL", "NEAR_NEWS")) -> EvidenceBundle:
    return EvidenceBundle(
        "breakout",
        tuple(
            SessionRecord(date(2026, 1, 5) + timedelta(days=i), regimes[i % len(regimes)],
                          Decimal(5), Decimal(1), 0.7, 0, 12, 1)
            for i in range(n)
        ),
    )  # fmt: skip


def kinds(engine: Engine) -> list[str]:
    engine.store.flush()
    return [r.kind for r in engine.store.rows() if r.kind.startswith("PROMOTION")]


async def test_bypass_without_request_or_by_self_or_wrong_tier_is_refused(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    # No request at all: straight to approval.
    r = engine.approve_promotion("breakout", "cto", "T2")
    assert not r.ok and "no promotion request" in r.message
    assert engine.strategy_stage("breakout") is Stage.SHADOW
    assert engine.request_promotion(bundle(), requester="quant").ok
    # The requester approving themselves, and a T1 approval, are both refused.
    assert "own promotion" in engine.approve_promotion("breakout", "quant", "T2").message
    assert "needs T2" in engine.approve_promotion("breakout", "cto", "T1").message
    assert engine.strategy_stage("breakout") is Stage.SHADOW
    # The legitimate path still works afterwards, once.
    assert engine.approve_promotion("breakout", "cto", "T2").ok
    assert engine.strategy_stage("breakout") is Stage.LIVE
    again = engine.approve_promotion("breakout", "cto", "T2")
    assert not again.ok and "no promotion request" in again.message
    assert kinds(engine) == [
        "PROMOTION_REFUSED", "PROMOTION_REQUESTED", "PROMOTION_REFUSED", "PROMOTION_REFUSED",
        "PROMOTION_APPROVED", "PROMOTION_REFUSED",
    ]  # fmt: skip
    await engine.stop()


async def test_partial_evidence_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    r = engine.request_promotion(bundle(12, ("NORMAL",)), requester="quant")
    assert not r.ok
    assert "sessions: 12 of 20" in r.message and "regimes: 1 of 2" in r.message
    assert not engine.approve_promotion("breakout", "cto", "T2").ok
    assert engine.strategy_stage("breakout") is Stage.SHADOW
    assert kinds(engine) == ["PROMOTION_REFUSED", "PROMOTION_REFUSED"]
    await engine.stop()


async def test_an_active_kill_flag_or_drift_vetoes_the_promotion(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    assert engine.request_promotion(bundle(), requester="quant").ok
    engine.recorder.emit(  # a kill flag raised the way the engine raises one
        KillFlagRaised(**engine.recorder.now_pair(), flag="STATE_CONFLICT", reason="stale state")
    )
    r = engine.approve_promotion("breakout", "cto", "T2")
    assert not r.ok and "kill flag active: STATE_CONFLICT" in r.message
    assert engine.strategy_stage("breakout") is Stage.SHADOW
    await engine.kill("drill")
    r = engine.approve_promotion("breakout", "cto", "T2")
    assert "HALTED" in r.message and engine.strategy_stage("breakout") is Stage.SHADOW
    await engine.stop()


async def test_a_promotion_survives_a_restart_and_shadow_strategies_cannot_trade_live(
    tmp_path: Path,
) -> None:
    from contracts.enums import DenialReason, Mode
    from tests.support import FakeBroker, make_intent

    engine, _, clock = await started_engine(tmp_path)
    assert engine.request_promotion(bundle(), requester="quant").ok
    assert engine.approve_promotion("breakout", "cto", "T2").ok
    await engine.stop()
    live_config = engine.config.model_copy(update={"mode": Mode.LIVE})
    broker = FakeBroker(clock)
    again = Engine(live_config, broker, data_dir=tmp_path, clock=clock)
    await again.start()
    broker.quote("AAPL", "99.99", "100.01")
    assert again.strategy_stage("breakout") is Stage.LIVE  # rebuilt from the audit log
    shadow = make_intent(clock).model_copy(update={"strategy": "untested"})
    refused = await again.propose(shadow)
    assert DenialReason.STRATEGY_NOT_LIVE in {d.reason for d in refused.denials}
    promoted = make_intent(clock).model_copy(update={"strategy": "breakout"})
    accepted = await again.propose(promoted)
    assert accepted.accepted, accepted.message
    await again.stop()
