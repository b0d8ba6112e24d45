"""The entry decision: sizing inside the constitution, tier gating, day limits, EUC vs theta."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.strategy.config import StrategyConfig
from engine.strategy.decision import DayBook, Decision, Gate, decide, tier_for
from engine.strategy.templates import EntryPlan, Setup, Skip
from tests.unit.strategy.helpers import MES

CFG = StrategyConfig()


def plan(stop_ticks: int, target_ticks: int | None = None, likelihood: float = 0.9) -> EntryPlan:
    target_ticks = target_ticks or stop_ticks * 2
    setup = Setup("K3", 1, likelihood, ("F4",), 5000.0, 4999.0, float("nan"), "test")
    return EntryPlan(
        setup,
        1,
        5000.0,
        5000 - stop_ticks * 0.25,
        5000 + target_ticks * 0.25,
        stop_ticks,
        target_ticks,
    )


def gate(equity: str = "10000", **kw) -> Gate:
    base = {
        "equity": Decimal(equity),
        "dvs": 1.0,
        "eqs": 1.0,
        "friction": 0.0,
        "session_minutes": 60.0,
        "high_volatility": False,
        "htf_aligned": True,
    }
    return Gate(**{**base, **kw})


@pytest.mark.parametrize("equity", ["1000", "2500", "10000", "250000", "10000000"])
@pytest.mark.parametrize("stop_ticks", range(1, 13))
def test_risk_never_exceeds_fifteen_dollars_or_twelve_ticks(equity, stop_ticks):
    result = decide(CFG, plan(stop_ticks), MES, gate(equity), DayBook(), after_loss_today=False)
    if isinstance(result, Skip):
        return
    assert result.risk_usd <= Decimal(15)
    assert result.risk_usd == result.quantity * Decimal("1.25") * stop_ticks
    assert result.quantity >= 1 and isinstance(result.quantity, int)
    assert result.plan.stop_ticks <= 12


def test_twelve_tick_mes_stop_is_exactly_fifteen_dollars_for_one_contract():
    result = decide(CFG, plan(12), MES, gate(), DayBook(), after_loss_today=False)
    assert isinstance(result, Decision)
    assert result.quantity == 1 and result.risk_usd == Decimal("15.00")


def test_a_wider_stop_is_refused_even_if_a_plan_carries_it():
    result = decide(CFG, plan(13), MES, gate(), DayBook(), after_loss_today=False)
    assert isinstance(result, Skip) and result.code == "stop_wide"


def test_capital_tiers_gate_trading_and_contracts():
    assert tier_for(Decimal(500), CFG.sizing.tiers).name == "T0"
    assert tier_for(Decimal(5000), CFG.sizing.tiers).name == "T1"
    small = decide(CFG, plan(4), MES, gate("500"), DayBook(), after_loss_today=False)
    assert isinstance(small, Skip) and small.code == "tier"
    t1 = decide(CFG, plan(4), MES, gate("5000"), DayBook(), after_loss_today=False)
    assert isinstance(t1, Decision) and t1.quantity == 1  # tier T1: one contract
    t2 = decide(CFG, plan(4), MES, gate("20000"), DayBook(), after_loss_today=False)
    assert isinstance(t2, Decision) and t2.quantity == 2


def test_equity_fraction_and_daily_loss_room_shrink_the_budget():
    thin = decide(CFG, plan(12), MES, gate("800"), DayBook(), after_loss_today=False)
    assert isinstance(thin, Skip)  # T0 below $1,000
    lost = DayBook(trades=1, realized=Decimal("-20"), consecutive_losses=1, losses=1)
    room = decide(CFG, plan(12), MES, gate(), lost, after_loss_today=True)
    assert isinstance(room, Skip) and room.code == "size"  # $10 left < $15 a contract


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (DayBook(trades=2), "day_trades"),
        (DayBook(trades=1, realized=Decimal("-30"), losses=1), "day_loss"),
        (DayBook(trades=1, consecutive_losses=2, losses=2), "day_losses"),
    ],
)
def test_day_limits_refuse_entries(day, code):
    result = decide(CFG, plan(4), MES, gate(), day, after_loss_today=True)
    assert isinstance(result, Skip) and result.code == code


def test_quality_gates_come_before_euc():
    low_dvs = decide(CFG, plan(4), MES, gate(dvs=0.5), DayBook(), after_loss_today=False)
    assert isinstance(low_dvs, Skip) and low_dvs.code == "dvs"
    low_eqs = decide(CFG, plan(4), MES, gate(eqs=0.4), DayBook(), after_loss_today=False)
    assert isinstance(low_eqs, Skip) and low_eqs.code == "eqs"


def test_euc_arithmetic_nets_costs_and_friction():
    result = decide(CFG, plan(8, 12, 0.8), MES, gate(), DayBook(), after_loss_today=False)
    assert isinstance(result, Decision)
    p = 0.5 + 0.5 * (0.8 - 0.5)
    expected = p * 15.0 - (1 - p) * 10.0 - (2 * 0.62 + 1.25)
    assert result.p_win == pytest.approx(p)
    assert result.euc_usd == pytest.approx(expected, abs=1e-4)
    assert result.costs_usd == pytest.approx(2.49)
    assert "EUC = 0.65 x $15.00 - 0.35 x $10.00" in result.arithmetic()
    rubbed = decide(
        CFG, plan(8, 12, 0.8), MES, gate(friction=0.5), DayBook(), after_loss_today=False
    )
    assert isinstance(rubbed, Skip) and rubbed.code == "euc" and "friction 50%" in rubbed.text


def test_theta_modifiers_raise_the_bar():
    calm = decide(CFG, plan(8, 10, 0.7), MES, gate(), DayBook(), after_loss_today=False)
    assert isinstance(calm, Decision) and calm.theta == pytest.approx(0.05)
    stressed = gate(htf_aligned=False, high_volatility=True, session_minutes=400, dvs=0.7, eqs=0.7)
    result = decide(CFG, plan(8, 10, 0.7), MES, stressed, DayBook(), after_loss_today=True)
    assert isinstance(result, Skip) and result.code == "euc"
    assert "theta 0.400" in result.text
