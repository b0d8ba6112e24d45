"""K1–K5 on constructed bar sequences: a setup and a plan where they should, a skip otherwise."""

from __future__ import annotations

import pytest

from engine.strategy.config import StrategyConfig
from engine.strategy.templates import (
    EntryPlan,
    K1VwapReversion,
    K2FailedBreak,
    K3Sweep,
    K4Momentum,
    K5NoiseFilter,
    Setup,
    Skip,
    StrategyLibrary,
)
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import chop

CFG = StrategyConfig()


def plan_for(template, bars) -> EntryPlan:
    ctx = scenes.context_after(bars)
    setup = template.detect(ctx)
    assert isinstance(setup, Setup), setup
    plan = template.plan_entry(ctx, setup)
    assert isinstance(plan, EntryPlan), plan
    assert 0 < plan.stop_ticks <= CFG.sizing.max_stop_ticks
    assert plan.target_ticks > 0
    return plan


def test_k1_fades_a_choppy_stretch_below_vwap_towards_it():
    plan = plan_for(K1VwapReversion(CFG), scenes.k1_stretch_down())
    assert plan.side == 1 and plan.stop < plan.entry < plan.target
    assert plan.target <= plan.setup.level  # never past VWAP


def test_k2_fades_a_failed_break_above_the_opening_range():
    plan = plan_for(K2FailedBreak(CFG), scenes.k2_failed_break_high())
    assert plan.side == -1
    assert plan.stop > 5003.0  # beyond the break's extreme
    assert plan.target == 4998.25  # the other side of the opening range (nearer than 1.5 R)


def test_k3_buys_a_sweep_of_the_low_that_closes_back_inside():
    plan = plan_for(K3Sweep(CFG), scenes.k3_sweep_low())
    assert plan.side == 1 and plan.stop < 4998.25


def test_k4_joins_an_aligned_trend_on_a_volume_surge():
    plan = plan_for(K4Momentum(CFG), scenes.k4_trend_up())
    assert plan.side == 1 and plan.setup.beliefs == ("F2", "F5", "F6")


def test_k5_takes_k4s_setup_when_beliefs_agree_and_rejects_a_lone_belief():
    k5 = K5NoiseFilter(CFG)
    plan = plan_for(k5, scenes.k4_trend_up())
    assert plan.setup.template == "K5" and plan.setup.via == "K4"
    alone = k5.detect(scenes.context_after(scenes.k1_stretch_down()))
    assert isinstance(alone, Skip) and alone.code == "k5_agree"


@pytest.mark.parametrize(
    ("template", "code"),
    [
        (K1VwapReversion(CFG), "k1_stretch"),
        (K2FailedBreak(CFG), "k2_none"),
        (K3Sweep(CFG), "k3_none"),
        (K4Momentum(CFG), "k4_gate"),
        (K5NoiseFilter(CFG), "k5_none"),
    ],
)
def test_every_template_skips_a_quiet_range_with_a_reason(template, code):
    result = template.detect(scenes.context_after(chop(40, amp=0.5)))
    assert isinstance(result, Skip) and result.code == code
    assert result.text.startswith(template.name + " skipped: ")


def test_k2_skip_names_the_level_and_the_window():
    bars = chop(40, amp=3.0)
    result = K2FailedBreak(CFG).detect(scenes.context_after(bars))
    assert isinstance(result, Skip)
    assert result.text == "K2 skipped: no failed break above 5,001.75 in the last 6 bars"


def test_a_stop_wider_than_the_constitution_is_a_skip_not_a_squeeze():
    tight = StrategyConfig(sizing=CFG.sizing.model_copy(update={"max_stop_ticks": 4}))
    template = K3Sweep(tight)
    ctx = scenes.context_after(scenes.k3_sweep_low(), tight)
    setup = template.detect(ctx)
    assert isinstance(setup, Setup)
    plan = template.plan_entry(ctx, setup)
    assert isinstance(plan, Skip) and plan.code == "stop_wide"
    assert "over the 4-tick limit" in plan.text


def test_library_refuses_unknown_names_and_keeps_config_order():
    with pytest.raises(ValueError, match="unknown strategy K9"):
        StrategyLibrary(StrategyConfig(enabled=("K1", "K9")))
    names = [t.name for t in StrategyLibrary(StrategyConfig(enabled=("K3", "K1"))).all()]
    assert names == ["K3", "K1"]
