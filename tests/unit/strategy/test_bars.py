"""Aggregation of 5-second bars into 1-minute bars and 1-minute into 5-minute bars."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.strategy.bars import Aggregator, BarView
from tests.unit.strategy.helpers import RTH_OPEN, bar


def five_second(i: int, price: float, *, gap: bool = False) -> BarView:
    ts = RTH_OPEN + timedelta(seconds=5 * i)
    return BarView("MES", ts, 5, price, price + 0.5, price - 0.25, price + 0.25, 10.0, gap)


def test_twelve_five_second_bars_make_one_minute_at_its_close():
    roller = Aggregator(60)
    done = []
    for i in range(12):
        done += roller.add(five_second(i, 5000.0 + i))
    assert len(done) == 1
    minute = done[0]
    assert minute.ts == RTH_OPEN and minute.seconds == 60
    assert minute.end == RTH_OPEN + timedelta(minutes=1)
    assert (minute.open, minute.high, minute.low, minute.close) == (
        5000.0,
        5011.5,
        4999.75,
        5011.25,
    )
    assert minute.volume == 120.0


def test_a_missing_tail_is_emitted_when_the_next_minute_starts_and_flush_gives_the_rest():
    roller = Aggregator(60)
    assert roller.add(five_second(0, 5000.0)) == []
    done = roller.add(five_second(13, 5001.0))  # second minute's second bar; first minute short
    assert [b.ts for b in done] == [RTH_OPEN]
    tail = roller.flush()
    assert tail is not None and tail.ts == RTH_OPEN + timedelta(minutes=1)
    assert roller.flush() is None


def test_gap_flag_is_carried_into_the_minute_that_contains_it():
    roller = Aggregator(60)
    done = []
    for i in range(12):
        done += roller.add(five_second(i, 5000.0, gap=(i == 5)))
    assert done[0].gap_before


def test_minutes_roll_into_five_minute_bars_aligned_to_the_clock():
    roller = Aggregator(300)
    done = []
    for i in range(10):
        done += roller.add(bar(i, 100 + i, 101 + i, 99 + i, 100.5 + i))
    assert [b.ts for b in done] == [RTH_OPEN, RTH_OPEN + timedelta(minutes=5)]
    assert done[0].high == 105 and done[0].low == 99 and done[0].close == 104.5


def test_bars_that_do_not_divide_the_length_are_refused():
    with pytest.raises(ValueError, match="cannot roll"):
        Aggregator(60).add(bar(0, 1, 1, 1, 1, seconds=120))
    with pytest.raises(ValueError, match="positive"):
        Aggregator(0)
