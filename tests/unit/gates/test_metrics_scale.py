"""Metrics math and scale-up tier arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.config import CapitalTier, ScaleConfig
from engine.metrics import (
    delta_pct,
    max_drawdown_pct,
    pct_change,
    percentile,
    probabilistic_sharpe,
    rate_pct,
    sharpe,
)
from engine.scale import position_cap, tier_for


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_sharpe_and_psr() -> None:
    assert sharpe([0.01]) is None
    assert sharpe([0.01, 0.01]) is None  # no variance: undefined, not infinite
    assert sharpe([0.01, 0.03]) == pytest.approx(0.02 / 0.0141421356, rel=1e-6)
    good = [0.01, 0.02, 0.015, 0.012, 0.018, 0.011, 0.02, 0.016] * 4
    bad = [-x for x in good]
    assert probabilistic_sharpe(good) == pytest.approx(1.0, abs=1e-6)
    assert probabilistic_sharpe(bad) == pytest.approx(0.0, abs=1e-6)
    flat = [0.01, -0.01] * 20
    assert probabilistic_sharpe(flat) == pytest.approx(0.5, abs=0.01)
    assert probabilistic_sharpe([0.01, 0.02]) is None


def test_drawdown_rates_and_deltas() -> None:
    curve = [Decimal(v) for v in (100, 120, 90, 110, 60, 130)]
    assert max_drawdown_pct(curve) == Decimal(50)
    assert max_drawdown_pct([]) == 0
    assert pct_change(Decimal(200), Decimal(190)) == Decimal(-5)
    assert pct_change(Decimal(0), Decimal(1)) is None
    assert rate_pct(49, 50) == pytest.approx(98.0)
    assert rate_pct(0, 0) is None
    assert delta_pct(15.0, 10.0) == pytest.approx(50.0)
    assert delta_pct(5.0, 10.0) == pytest.approx(50.0)
    assert delta_pct(5.0, 0.0) is None


def scale(go_live: str = "2026-03-02") -> ScaleConfig:
    return ScaleConfig(go_live_date=go_live, capital=Decimal(100000))


def test_no_tier_without_a_go_live_date() -> None:
    assert tier_for(ScaleConfig(), date(2026, 3, 2)) is None


@pytest.mark.parametrize(
    ("day", "week", "fraction"),
    [
        (date(2026, 2, 20), 0, "0.10"),  # before go-live: the tightest tier
        (date(2026, 3, 2), 1, "0.10"),
        (date(2026, 3, 8), 1, "0.10"),
        (date(2026, 3, 9), 2, "0.30"),
        (date(2026, 3, 22), 3, "0.30"),
        (date(2026, 3, 23), 4, "1.0"),
        (date(2026, 9, 1), 27, "1.0"),
    ],
)
def test_default_tiers_by_week(day: date, week: int, fraction: str) -> None:
    tier = tier_for(scale(), day)
    assert tier is not None
    assert tier.week == week
    assert tier.fraction == Decimal(fraction)
    assert tier.capital == Decimal(100000) * Decimal(fraction)
    assert tier.max_position_value == tier.capital * Decimal("0.25")


def test_week_one_caps_a_position_at_a_quarter_of_ten_percent() -> None:
    tier = tier_for(scale(), date(2026, 3, 3))
    assert tier is not None
    assert tier.max_position_value == Decimal(2500)
    assert position_cap(tier, Decimal(100), Decimal(1)) == 25
    assert position_cap(tier, Decimal("189.50"), Decimal(1)) == 13
    assert position_cap(tier, Decimal(5000), Decimal(50)) == 0
    assert position_cap(tier, None, Decimal(1)) == 0
    assert "tier 1" in tier.label


def test_tiers_are_read_in_week_order_whatever_the_config_order() -> None:
    cfg = ScaleConfig(
        go_live_date="2026-03-02",
        tiers=[CapitalTier(from_week=3, fraction=Decimal("0.5")),
               CapitalTier(from_week=1, fraction=Decimal("0.2"))],
    )  # fmt: skip
    t = tier_for(cfg, date(2026, 3, 17))
    assert t is not None and t.fraction == Decimal("0.5") and t.index == 0
    t = tier_for(cfg, date(2026, 3, 10))
    assert t is not None and t.fraction == Decimal("0.2")


def test_a_malformed_go_live_date_is_named() -> None:
    with pytest.raises(ValueError, match="go_live_date"):
        tier_for(scale("next monday"), date(2026, 3, 2))
