"""Backtest entries pass through the engine's own pre-trade checks (engine.risk)."""

from __future__ import annotations

from decimal import Decimal

from contracts.config import RiskConfig
from engine.strategy.backtest import run_backtest, summary
from engine.strategy.config import StrategyConfig
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import DAY, MES


def backtest(risk: RiskConfig):
    config = StrategyConfig(enabled=("K3",))
    return run_backtest(
        config, [(DAY, scenes.k3_sweep_low())], {"MES": MES}, equity=Decimal(10000), risk=risk
    )


def test_the_default_notional_cap_refuses_a_micro_future_and_the_refusal_is_reported():
    result = backtest(RiskConfig())
    assert result.denials and result.denials[0].startswith("MAX_NOTIONAL")
    assert summary(result, {})["engine_denials"] == {"MAX_NOTIONAL": 1}
    assert not result.trades


def test_with_room_for_futures_notional_the_same_entry_passes_every_engine_check():
    result = backtest(RiskConfig(max_notional=Decimal(150_000)))
    assert not result.denials
    assert any(d.action == "ENTER" for d in result.decisions)
