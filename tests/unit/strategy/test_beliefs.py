"""Beliefs F1–F6: sigmoid likelihoods, applicability gating and stability tracking."""

from __future__ import annotations

import math

from engine.strategy.beliefs import DESCRIPTIONS, Belief, BeliefEngine, sigmoid
from engine.strategy.config import BeliefConfig
from engine.strategy.signals import Signals
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import chop


def test_sigmoid_is_bounded_symmetric_and_safe_at_extremes():
    assert sigmoid(0) == 0.5
    assert math.isclose(sigmoid(2) + sigmoid(-2), 1.0)
    assert sigmoid(1000) == 1.0 and sigmoid(-1000) == 0.0


def test_six_beliefs_with_likelihoods_in_zero_one():
    ctx = scenes.context_after(scenes.k4_trend_up())
    assert sorted(ctx.beliefs) == sorted(DESCRIPTIONS) == ["F1", "F2", "F3", "F4", "F5", "F6"]
    assert all(0.0 <= b.likelihood <= 1.0 for b in ctx.beliefs.values())


def test_nothing_applies_before_the_signals_are_warm():
    engine = BeliefEngine(BeliefConfig())
    beliefs = engine.update(Signals(vwap_dist_atr=-4.0, efficiency=0.1, warm=False))
    assert not any(b.applicable for b in beliefs.values())


def test_mean_reversion_is_gated_off_in_an_efficient_tape():
    cfg = BeliefConfig(chop_efficiency_max=0.45)
    engine = BeliefEngine(cfg)
    ranging = engine.update(Signals(vwap_dist_atr=-3.0, efficiency=0.2, warm=True))
    assert ranging["F1"].applicable and ranging["F1"].direction == 1
    assert ranging["F1"].likelihood > 0.9
    trending = engine.update(Signals(vwap_dist_atr=-3.0, efficiency=0.8, warm=True))
    assert not trending["F1"].applicable


def test_trend_belief_needs_the_higher_timeframe_to_agree():
    engine = BeliefEngine(BeliefConfig())
    against = engine.update(Signals(momentum_atr=2.0, efficiency=0.7, htf_trend=-1, warm=True))
    assert not against["F2"].applicable
    aligned = engine.update(Signals(momentum_atr=2.0, efficiency=0.7, htf_trend=1, warm=True))
    assert aligned["F2"].applicable and aligned["F2"].direction == 1


def test_failed_break_and_sweep_beliefs_point_against_the_breakout():
    ctx = scenes.context_after(scenes.k2_failed_break_high())
    assert ctx.beliefs["F3"].applicable and ctx.beliefs["F3"].direction == -1
    ctx = scenes.context_after(scenes.k3_sweep_low())
    assert ctx.beliefs["F4"].applicable and ctx.beliefs["F4"].direction == 1


def test_volatility_belief_peaks_inside_its_band():
    engine = BeliefEngine(BeliefConfig(f5_low=0.6, f5_high=1.8))
    normal = engine.update(Signals(vol_regime=1.2, warm=True))["F5"].likelihood
    dead = BeliefEngine(BeliefConfig()).update(Signals(vol_regime=0.1, warm=True))["F5"].likelihood
    wild = BeliefEngine(BeliefConfig()).update(Signals(vol_regime=4.0, warm=True))["F5"].likelihood
    assert normal > 0.8 > 0.2 > max(dead, wild)


def test_stability_counts_applicable_bars_and_drops_on_a_jump():
    cfg = BeliefConfig(stability_alpha=0.5, stable_change_max=0.1)
    belief = Belief("F1")
    for _ in range(5):
        belief.settle(0.7, 1, True, cfg)
    assert belief.stable_bars == 5
    belief.settle(0.7, 1, True, cfg)
    assert belief.stable
    belief.settle(0.1, 1, True, cfg)
    assert not belief.stable and belief.stable_bars == 7
    belief.settle(0.1, 0, False, cfg)
    assert belief.stable_bars == 0 and not belief.stable


def test_a_quiet_range_gives_no_directional_setup_beliefs():
    ctx = scenes.context_after(chop(40, amp=0.5))
    assert not ctx.beliefs["F3"].applicable and not ctx.beliefs["F4"].applicable
    assert ctx.beliefs["F1"].likelihood < 0.5
