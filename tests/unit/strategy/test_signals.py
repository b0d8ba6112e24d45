"""Each signal of the catalogue at its edges (one bar in, bounded values out)."""

from __future__ import annotations

import math
from datetime import timedelta

from engine.strategy.config import SignalConfig
from engine.strategy.signals import CATALOGUE, SignalEngine, Signals
from tests.unit.strategy.helpers import RTH_OPEN, bar, chop


def feed(bars, engine: SignalEngine | None = None, rth=RTH_OPEN) -> Signals:
    engine = engine or SignalEngine(SignalConfig())
    if engine.signals.bars == 0 and rth is not None:
        engine.new_session(rth)
    s = engine.signals
    for b in bars:
        s = engine.update(b)
    return s


def test_catalogue_has_thirty_five_named_signals_and_every_value_is_one_of_them():
    assert len(CATALOGUE) == 35
    s = feed(chop(40))
    assert set(s.finite()) <= set(CATALOGUE)


def test_first_bar_seeds_atr_with_its_range_and_vwap_with_its_typical_price():
    s = feed([bar(0, 100, 102, 99, 101)])
    assert s.atr == 3.0 and s.atr_slow == 3.0
    assert math.isclose(s.vwap, (102 + 99 + 101) / 3)
    assert s.ltf_trend == 0 and s.momentum_atr == 0.0


def test_a_flat_tape_is_bounded_everywhere():
    flat = [bar(i, 100, 100, 100, 100, 0) for i in range(60)]
    s = feed(flat)
    assert s.atr == 0.0 and s.range_atr == 0.0 and s.vwap_dist_atr == 0.0
    assert s.efficiency == 0.0 and s.rsi == 50.0
    assert s.body_ratio == 0.0 and s.close_location == 0.5
    assert s.volume_ratio == 1.0 and s.realized_vol_bps == 0.0
    assert s.up_streak == 0 and s.down_streak == 0


def test_ratios_in_atr_are_clipped():
    cfg = SignalConfig(clip=5.0)
    bars = chop(30, amp=0.25)
    bars.append(bar(30, 5000, 5100, 5000, 5100))  # a huge bar far above VWAP
    s = feed(bars, SignalEngine(cfg))
    assert s.vwap_dist_atr <= 5.0 and s.range_atr <= 5.0 and s.momentum_atr <= 5.0
    assert s.close_location == 1.0 and s.body_ratio == 1.0


def test_rsi_is_100_after_only_gains_and_streaks_cap_at_ten():
    bars = [bar(i, 100 + i, 101 + i, 100 + i, 101 + i) for i in range(20)]
    s = feed(bars)
    assert s.rsi == 100.0
    assert s.up_streak == 10 and s.down_streak == 0
    assert s.efficiency == 1.0 and s.ltf_trend == 1
    assert s.momentum_atr > 0


def test_efficiency_is_low_in_chop_and_volume_surge_is_clipped_at_ten():
    bars = chop(30)
    bars.append(bar(30, 5000, 5000.5, 4999.5, 5000, 100_000))
    s = feed(bars)
    assert s.efficiency < 0.2
    assert s.volume_ratio == 10.0


def test_opening_range_is_ready_after_its_minutes_and_positions_the_close():
    engine = SignalEngine(SignalConfig(opening_range_minutes=30))
    s = feed(chop(29), engine)
    assert math.isnan(s.or_high) and s.or_position == 0
    s = feed(chop(1, start_minute=29), engine)
    assert s.or_high == 5000.75 and s.or_low == 4999.25
    s = engine.update(bar(30, 5000.5, 5002, 5000.5, 5001.5))
    assert s.or_position == 1
    s = engine.update(bar(31, 5000, 5000, 4998, 4998.5))
    assert s.or_position == -1


def test_bars_before_the_regular_open_do_not_count_in_the_opening_range():
    engine = SignalEngine(SignalConfig(opening_range_minutes=5))
    early = [
        bar(i, 4900, 4950, 4850, 4900, start=RTH_OPEN - timedelta(minutes=10)) for i in range(10)
    ]
    s = feed(early + chop(5), engine)
    assert s.or_high == 5000.75 and s.or_low == 4999.25
    assert s.session_minutes == 5.0


def test_prior_day_levels_roll_at_the_session_change():
    engine = SignalEngine(SignalConfig())
    s = feed(chop(20), engine)
    assert math.isnan(s.pdh)
    engine.new_session(RTH_OPEN + timedelta(days=1))
    assert (s.pdh, s.pdl, s.pdc) == (5000.75, 4999.25, 4999.5)
    nxt = bar(0, 5010, 5011, 5009, 5010, start=RTH_OPEN + timedelta(days=1))
    s = engine.update(nxt)
    assert s.gap_open_atr > 0 and s.dist_pdh_atr > 0 and s.bars == 1


def test_sweep_of_the_high_needs_a_close_back_under_it():
    n = SignalConfig().sweep_lookback_bars
    base = chop(n + 5)
    s = feed([*base, bar(n + 5, 5000, 5002, 4999.5, 5000)])
    assert s.sweep_high == 1 and s.sweep_high_level == 5000.75
    s = feed([*base, bar(n + 5, 5000, 5002, 4999.5, 5001.5)])  # closed above: a breakout
    assert s.sweep_high == 0
    s = feed([*base, bar(n + 5, 5000, 5000.5, 4998, 5000.25)])
    assert s.sweep_low == 1 and s.sweep_low_level == 4999.25


def test_no_sweep_before_there_is_a_full_lookback():
    s = feed([*chop(3), bar(3, 5000, 5003, 4999, 5000)])
    assert s.sweep_high == 0


def test_failed_break_of_the_opening_range_high_within_the_window():
    cfg = SignalConfig(opening_range_minutes=30, failed_break_window_bars=6)
    engine = SignalEngine(cfg)
    feed(chop(30), engine)  # OR 4999.25 - 5000.75
    s = engine.update(bar(30, 5000.5, 5002.5, 5000.5, 5002))  # close above
    assert s.failed_break_high == 0
    s = engine.update(bar(31, 5002, 5002.25, 5000, 5000.25))  # back under within the window
    assert s.failed_break_high == 1
    assert s.failed_break_high_level == 5000.75 and s.failed_break_high_extreme == 5002.5


def test_a_break_that_holds_past_the_window_is_not_a_failed_break():
    cfg = SignalConfig(opening_range_minutes=30, failed_break_window_bars=2)
    engine = SignalEngine(cfg)
    feed(chop(30), engine)
    for i in range(4):
        s = engine.update(bar(30 + i, 5002, 5003, 5001.5, 5002.5))
    s = engine.update(bar(34, 5002, 5002, 5000, 5000.25))
    assert s.failed_break_high == 0


def test_failed_break_low_and_the_nearest_levels():
    engine = SignalEngine(SignalConfig(opening_range_minutes=30))
    feed(chop(30), engine)
    engine.update(bar(30, 4999.5, 4999.5, 4997.5, 4998))
    s = engine.update(bar(31, 4998, 5000, 4998, 4999.75))
    assert s.failed_break_low == 1 and s.failed_break_low_level == 4999.25
    assert s.level_above == 5000.75 and s.level_below == 4999.25


def test_higher_timeframe_trend_comes_from_five_minute_bars():
    up = [bar(i, 100 + i, 101 + i, 99.5 + i, 100.75 + i) for i in range(30)]
    s = feed(up)
    assert s.htf_trend == 1 and s.warm
    down = [bar(30 + i, 130 - i, 130.5 - i, 129 - i, 129.25 - i) for i in range(60)]
    engine = SignalEngine(SignalConfig())
    engine.new_session(RTH_OPEN)
    for b in up + down:
        s = engine.update(b)
    assert s.htf_trend == -1 and s.ltf_trend == -1


def test_not_warm_until_every_lookback_has_data():
    s = feed(chop(5))
    assert not s.warm
    s = feed(chop(40))
    assert s.warm


def test_realized_volatility_is_positive_when_prices_move():
    s = feed(chop(30, amp=2.0))
    assert s.realized_vol_bps > 0
