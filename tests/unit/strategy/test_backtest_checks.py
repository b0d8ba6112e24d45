"""Backtest entries pass through the engine's own pre-trade checks (engine.risk)."""

from __future__ import annotations

from decimal import Decimal

from contracts.config import RiskConfig
from contracts.strategy import StrategyConfig
from engine.strategy.backtest import run_backtest, summary
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import DAY, MES


def backtest(risk: RiskConfig):
    config = StrategyConfig(enabled=("K3",))
    return run_backtest(
        config, [(DAY, scenes.k3_sweep_low())], {"MES": MES}, equity=Decimal(10000), risk=risk
    )


def test_a_futures_notional_cap_below_one_micro_refuses_it_and_the_refusal_is_reported():
    result = backtest(RiskConfig(max_notional_futures=Decimal(25_000)))
    assert result.denials and result.denials[0].startswith("MAX_NOTIONAL")
    assert summary(result, {})["engine_denials"] == {"MAX_NOTIONAL": 1}
    assert not result.trades


def test_the_default_futures_notional_cap_lets_a_micro_entry_pass_every_engine_check():
    result = backtest(RiskConfig())
    assert not result.denials
    assert any(d.action == "ENTER" for d in result.decisions)
