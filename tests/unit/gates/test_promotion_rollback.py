"""Promotion rules and rollback arithmetic (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from contracts.config import KillConfig
from engine.promotion import (
    EvidenceBundle,
    PromotionContext,
    SessionRecord,
    Stage,
    missing_evidence,
    refusal_reasons,
)
from engine.rollback import NavTracker, rollback_reason, verify_rollback


def sessions(
    n: int, regimes: tuple[str, ...] = ("NORMAL", "HIGH_VOLATILITY")
) -> tuple[SessionRecord, ...]:
    return tuple(
        SessionRecord(
            day=date(2026, 1, 5) + timedelta(days=i),
            regime=regimes[i % len(regimes)],
            pnl=Decimal(10 - i % 3 * 8),
            max_drawdown_pct=Decimal("1.5"),
            sharpe=0.8,
            would_have_killed=i % 5 == 0,
            decisions=10,
            overrides=1,
        )
        for i in range(n)
    )


def test_complete_bundle_has_nothing_missing_and_summarises() -> None:
    bundle = EvidenceBundle("breakout", sessions(20))
    assert missing_evidence(bundle) == ()
    s = bundle.summary()
    assert s["sessions"] == "20" and s["regimes"] == "HIGH_VOLATILITY,NORMAL"
    assert s["worst_day"] == "-6" and s["would_have_killed"] == "4"
    assert s["override_rate"] == "0.1000" and s["max_drawdown_pct"] == "1.5"


def test_partial_bundle_lists_what_is_missing() -> None:
    short = EvidenceBundle("b", sessions(19, ("NORMAL",)))
    missing = missing_evidence(short)
    assert "sessions: 19 of 20" in missing
    assert any(m.startswith("regimes: 1 of 2") for m in missing)
    no_sharpe = EvidenceBundle(
        "b", tuple(SessionRecord(s.day, s.regime, s.pnl, None, None, 0, 0, 0) for s in sessions(20))
    )
    text = "; ".join(missing_evidence(no_sharpe))
    assert "Sharpe not recorded for 20" in text and "max drawdown" in text
    assert "override rate" in text


def ctx(**kw: object) -> PromotionContext:
    base = dict(stage=Stage.SHADOW, kill_flags=(), halted=False, unresolved_drifts=0,
                requested_by="quant", evidence_missing=())  # fmt: skip
    base.update(kw)
    return PromotionContext(**base)  # type: ignore[arg-type]


def test_refusal_reasons() -> None:
    assert refusal_reasons(ctx(), Stage.LIVE, "risk", "T2") == ()
    assert "T2" in refusal_reasons(ctx(), Stage.LIVE, "risk", "T1")[0]
    assert "own promotion" in refusal_reasons(ctx(), Stage.LIVE, "quant", "T2")[0]
    assert (
        "no promotion request" in refusal_reasons(ctx(requested_by=None), Stage.LIVE, "r", "T2")[0]
    )
    assert "kill flag active: STATE_CONFLICT" in refusal_reasons(
        ctx(kill_flags=("STATE_CONFLICT",)), Stage.LIVE, "risk", "T2"
    )
    assert "1 unresolved" in refusal_reasons(ctx(unresolved_drifts=1), Stage.LIVE, "r", "T2")[0]
    assert "only SHADOW -> LIVE" in refusal_reasons(ctx(stage=Stage.LIVE), Stage.LIVE, "r", "T2")[0]


def test_nav_tracker_and_triggers() -> None:
    kill = KillConfig()
    nav = NavTracker()
    for v in (100000, 101000, 99000):
        nav.update(Decimal(v))
    assert nav.start == 100000 and nav.peak == 101000 and nav.last == 99000
    assert len(nav.returns) == 2
    assert rollback_reason(nav, 0, 0, kill) is None
    nav.update(Decimal(94900))
    assert "P&L -5.10%" in (rollback_reason(nav, 0, 0, kill) or "")
    assert "11 pacing" in (rollback_reason(NavTracker(), 11, 0, kill) or "")
    assert rollback_reason(NavTracker(), 10, 3, kill) is None
    assert "4 connection" in (rollback_reason(NavTracker(), 0, 4, kill) or "")
    dd = NavTracker()
    for v in (100000, 130000, 110000):
        dd.update(Decimal(v))
    assert "drawdown 15.38%" in (rollback_reason(dd, 0, 0, kill) or "")


def test_psr_trigger_waits_for_enough_returns() -> None:
    kill = KillConfig(psr_min_samples=30)
    nav = NavTracker()
    value = Decimal(100000)
    for i in range(40):
        nav.update(value)
        value += Decimal(-30 if i % 3 else 10)
        if len(nav.returns) == 20:
            assert rollback_reason(nav, 0, 0, kill) is None
    assert "PSR" in (rollback_reason(nav, 0, 0, kill) or "")


def test_verify_rollback() -> None:
    ok = verify_rollback({"AAPL": Decimal(0)}, 0, Decimal(100000), Decimal(99500), Decimal(1))
    assert ok.verified and ok.flat and ok.nav_change_pct == Decimal("-0.5")
    bad = verify_rollback({"AAPL": Decimal(10)}, 2, Decimal(100000), Decimal(98000), Decimal(1))
    assert not bad.verified and not bad.flat
    assert bad.problems == (
        "not flat: AAPL 10",
        "2 open order(s) at the broker",
        "NAV moved -2.000% since the session start (max 1%)",
    )
    assert "NAV unknown" in verify_rollback({}, 0, None, Decimal(1), Decimal(1)).problems[0]
