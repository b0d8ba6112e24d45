"""DVS and EQS scoring, the margin-call rule, and the virtual fill model."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.strategy.config import QualityConfig
from engine.strategy.quality import DataQuality, ExecutionQuality, is_margin_call
from engine.strategy.venue import EntryFilled, ExitFilled, VirtualVenue
from tests.unit.strategy.helpers import bar


def test_dvs_is_one_on_a_clean_fresh_feed():
    dq = DataQuality(QualityConfig())
    for i in range(5):
        dq.on_bar(bar(i, 100, 101, 99, 100), atr=2.0)
    assert dq.score(bar(4, 1, 1, 1, 1).end) == 1.0


def test_dvs_falls_to_zero_as_the_feed_goes_stale():
    cfg = QualityConfig(stale_after_s=150, dead_after_s=900)
    dq = DataQuality(cfg)
    last = bar(0, 100, 101, 99, 100)
    dq.on_bar(last, atr=2.0)
    assert dq.score(last.end + timedelta(seconds=150)) == 1.0
    assert 0 < dq.score(last.end + timedelta(seconds=500)) < 1
    assert dq.score(last.end + timedelta(seconds=900)) == 0.0


def test_gaps_outliers_and_wide_spreads_lower_dvs_and_gaps_decay():
    dq = DataQuality(QualityConfig(gap_penalty=0.25, penalty_decay=0.5))
    dq.on_bar(bar(0, 100, 101, 99, 100), atr=2.0)
    dq.on_bar(bar(5, 100, 101, 99, 100), atr=2.0)  # four minutes missing
    now = bar(5, 1, 1, 1, 1).end
    assert dq.components(now)["gaps"] == pytest.approx(0.75)
    dq.on_bar(bar(6, 100, 101, 99, 100), atr=2.0)
    assert dq.components(now)["gaps"] == pytest.approx(0.875)
    dq.on_bar(bar(7, 100, 140, 99, 100), atr=2.0)  # a 41-point bar against a 2-point ATR
    assert dq.components(now)["outliers"] < 1
    dq.on_spread(6.0)
    assert dq.score(now) == 0.0


def test_the_overnight_break_is_not_a_gap():
    dq = DataQuality(QualityConfig())
    dq.on_bar(bar(0, 100, 101, 99, 100), atr=2.0)
    dq.new_session()
    dq.on_bar(bar(60 * 18, 100, 101, 99, 100), atr=2.0)
    assert dq.gap_penalty == 0.0


def test_eqs_reflects_slippage_rejects_and_latency():
    eq = ExecutionQuality(QualityConfig(max_slippage_ticks=4, max_reject_rate=0.5))
    assert eq.score() == 1.0
    for _ in range(10):
        eq.on_fill(4.0)
    assert eq.components()["slippage"] < 0.2
    eq2 = ExecutionQuality(QualityConfig())
    for _ in range(5):
        eq2.on_reject()
    assert eq2.score() == 0.0
    eq3 = ExecutionQuality(QualityConfig(max_latency_ms=1000))
    for _ in range(20):
        eq3.on_latency(1000)
    assert eq3.components()["latency"] < 0.05


def test_margin_call_from_cushion_or_negative_funds():
    assert is_margin_call(0.0, 100.0, 0.0)
    assert is_margin_call(None, -1.0, 0.0)
    assert not is_margin_call(0.3, 100.0, 0.0)
    assert not is_margin_call(None, None, 0.0)


def test_limit_entry_fills_at_its_price_on_a_later_bar_never_better():
    venue = VirtualVenue(0.25, 1)
    venue.place_entry("a", 1, 100.0, 98.0, 104.0)
    assert venue.on_bar(bar(1, 101, 102, 100.5, 101)) == []
    events = venue.on_bar(bar(2, 99, 100, 98.5, 99.5))  # opened through the limit
    assert events == [EntryFilled("a", 100.0, bar(2, 0, 0, 0, 0).ts)]


def test_stop_first_when_both_are_touched_and_a_gap_fills_at_the_open_with_slippage():
    venue = VirtualVenue(0.25, 1)
    venue.place_entry("a", 1, 100.0, 98.0, 104.0)
    venue.on_bar(bar(1, 100, 100.5, 99.5, 100))
    (exit_,) = venue.on_bar(bar(2, 100, 105, 97, 101))
    assert isinstance(exit_, ExitFilled) and exit_.reason == "stop" and exit_.price == 97.75
    venue.place_entry("b", -1, 100.0, 102.0, 96.0)
    venue.on_bar(bar(3, 100, 100.5, 99.5, 100))
    (gap,) = venue.on_bar(bar(4, 103, 104, 102.5, 103.5))
    assert gap.price == 103.25  # gapped through 102: the open plus one tick


def test_target_exit_requested_exit_modify_cancel_and_close_all():
    venue = VirtualVenue(0.25, 1)
    venue.place_entry("a", 1, 100.0, 98.0, 104.0)
    venue.on_bar(bar(1, 100, 100.5, 99.5, 100))
    (t,) = venue.on_bar(bar(2, 102, 106, 101.5, 105))
    assert t.reason == "target" and t.price == 104.0
    venue.place_entry("b", 1, 100.0, 98.0, 104.0)
    venue.on_bar(bar(3, 100, 100.5, 99.5, 100))
    assert venue.modify("b", 100.0)
    venue.request_exit("b", "thesis")
    (x,) = venue.on_bar(bar(4, 101, 101, 99, 100))
    assert x.reason == "thesis" and x.price == 100.75
    venue.place_entry("c", 1, 90.0, 88.0, 94.0)
    assert venue.cancel_entry("c") and not venue.cancel_entry("c")
    venue.place_entry("d", 1, 100.0, 98.0, 104.0)
    venue.on_bar(bar(5, 100, 100.5, 99.5, 100))
    (s,) = venue.close_all(100.25, bar(5, 0, 0, 0, 0).end, "session_end")
    assert s.reason == "session_end" and venue.working() == 0
    with pytest.raises(ValueError, match="already working"):
        venue.place_entry("e", 1, 1, 0.5, 2)
        venue.place_entry("e", 1, 1, 0.5, 2)
