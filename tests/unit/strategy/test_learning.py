"""The learning loop: friction, quarantine, re-enable from shadow, restore, attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.strategy.config import LearningConfig
from engine.strategy.learning import ATTRIBUTION, LearningLoop, attribute
from engine.strategy.records import LearningRecord, TradeRecord, parse_record

T0 = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
_n = iter(range(10_000))


def trade(pnl: str, *, strategy: str = "K2", mode: str = "live") -> TradeRecord:
    i = next(_n)
    return TradeRecord(
        trade_id=f"t{i}",
        strategy=strategy,
        mode=mode,
        symbol="MES",
        side="BUY",
        quantity=1,
        entry_time=T0 + timedelta(minutes=i),
        exit_time=T0 + timedelta(minutes=i, seconds=30),
        entry_price=Decimal("5000.00"),
        exit_price=Decimal("5001.00"),
        stop_price=Decimal("4998.00"),
        target_price=Decimal("5003.00"),
        stop_ticks=8,
        risk_usd=Decimal("10.00"),
        pnl_usd=Decimal(pnl),
        r_multiple=float(Decimal(pnl) / 10),
        exit_reason="target" if Decimal(pnl) > 0 else "stop",
        attribution="A0",
        mfe_r=0.0,
        mae_r=0.0,
        bars_held=3,
    )


def test_two_losses_in_a_row_quarantine_and_two_shadow_wins_re_enable():
    loop = LearningLoop(LearningConfig())
    assert loop.record_trade(trade("12")) == []
    assert loop.record_trade(trade("-10")) == []
    changes = loop.record_trade(trade("-10"))
    assert [c.change for c in changes] == ["QUARANTINED"]
    assert "2 losses in a row" in changes[0].reason and loop.quarantined("K2")
    assert loop.record_trade(trade("8", mode="shadow")) == []
    assert loop.record_trade(trade("-3", mode="shadow")) == []  # the streak restarts
    assert loop.record_trade(trade("8", mode="shadow")) == []
    changes = loop.record_trade(trade("9", mode="shadow"))
    assert [c.change for c in changes] == ["REENABLED"] and not loop.quarantined("K2")
    assert loop.stats("K2").trades == 3  # shadow trades never count as live record


def test_shadow_trades_of_an_active_strategy_change_nothing():
    loop = LearningLoop(LearningConfig())
    assert loop.record_trade(trade("-5", mode="shadow")) == []
    assert loop.stats("K2").trades == 0


def test_negative_expectancy_quarantines_without_a_losing_streak():
    loop = LearningLoop(LearningConfig(min_trades_for_expectancy=4))
    for pnl in ("2", "-12", "2", "-12"):
        changes = loop.record_trade(trade(pnl))
    assert [c.change for c in changes] == ["QUARANTINED"]
    assert "negative expectancy" in changes[0].reason


@pytest.mark.parametrize(("wins", "expected"), [(1, 0.35), (0, 0.5)])
def test_win_rate_under_forty_percent_adds_twenty_to_fifty_percent_friction(wins, expected):
    cfg = LearningConfig(
        min_trades_for_throttle=5, quarantine_consecutive_losses=99, min_trades_for_expectancy=99
    )
    loop = LearningLoop(cfg)
    changes = []
    for i in range(5):
        changes += loop.record_trade(trade("10" if i < wins else "-1"))
    assert [c.change for c in changes] == ["THROTTLED"]
    assert 0.2 <= loop.friction("K2") <= 0.5
    assert loop.friction("K2") == pytest.approx(expected)


def test_friction_lifts_when_the_win_rate_recovers():
    cfg = LearningConfig(quarantine_consecutive_losses=99, min_trades_for_expectancy=99)
    loop = LearningLoop(cfg)
    for pnl in ("-1", "-1", "-1", "-1", "5"):
        loop.record_trade(trade(pnl))
    assert loop.friction("K2") > 0
    changes = []
    for _ in range(3):
        changes += loop.record_trade(trade("5"))
    assert changes[-1].change == "UNTHROTTLED" and loop.friction("K2") == 0


def test_standing_survives_a_restart_through_its_records():
    loop = LearningLoop(LearningConfig())
    stored: list[TradeRecord | LearningRecord] = []
    for pnl in ("-10", "-10"):
        t = trade(pnl, strategy="K3")
        stored.append(t)
        stored += loop.record_trade(t)
    assert loop.quarantined("K3")
    round_trip = [parse_record(r.model_dump_json()) for r in stored]
    again = LearningLoop(LearningConfig())
    again.restore(round_trip)  # type: ignore[arg-type]
    assert again.quarantined("K3") and again.stats("K3") == loop.stats("K3")


@pytest.mark.parametrize(
    ("reason", "pnl", "mfe", "slip", "code"),
    [
        ("target", "20", 2.0, "0", "A0"),
        ("time", "6", 1.0, "0", "A1"),
        ("stop", "-1", 1.0, "0", "A2"),
        ("thesis", "-6", 0.2, "0", "A3"),
        ("stop", "-16", 0.8, "0", "A4"),
        ("stop", "-16", 0.1, "0", "A5"),
        ("time", "-5", 0.1, "0", "A6"),
        ("volatility", "-9", 0.1, "0", "A7"),
        ("stop", "-20", 0.1, "5", "A8"),
        ("session_end", "-3", 0.1, "0", "A9"),
        ("kill", "4", 0.5, "0", "A9"),
    ],
)
def test_every_closed_trade_gets_one_of_a0_to_a9(reason, pnl, mfe, slip, code):
    got = attribute(
        exit_reason=reason,
        pnl_usd=Decimal(pnl),
        risk_usd=Decimal(15),
        mfe_r=mfe,
        slippage_usd=Decimal(slip),
        scratch_usd=Decimal("2.49"),
    )
    assert got == code and got in ATTRIBUTION
