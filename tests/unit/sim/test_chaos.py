"""Chaos modes: outcome frequencies per mode, delays, and switching at runtime."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from broker.sim import PROFILES, ManualScheduler, Outcome, SimVenue, VenueOrderStatus
from contracts.enums import ChaosMode, Side
from tests.unit.sim.helpers import spec

N = 4000


def _flood(venue: SimVenue, n: int) -> list[int]:
    perm_ids = []
    for i in range(n):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        perm_ids.append(venue.submit(spec(side, 10, symbol="SPY")).perm_id)
    return perm_ids


@pytest.mark.parametrize("mode", list(ChaosMode))
def test_outcome_frequencies_match_the_mode(mode: ChaosMode) -> None:
    scheduler = ManualScheduler()
    venue = SimVenue(123, mode, scheduler=scheduler, starting_cash=Decimal("1e9"))
    perm_ids = _flood(venue, N)
    low, high = PROFILES[mode].delay_range
    scheduler.advance(1.0)  # past every ack latency, before any chaos delay
    orders = [venue.order(p) for p in perm_ids]
    assert all(o is not None for o in orders)
    pending = sum(1 for o in orders if o and o.status is VenueOrderStatus.PENDING_SUBMIT)
    rejected = sum(1 for o in orders if o and o.status is VenueOrderStatus.REJECTED)
    partial = sum(1 for o in orders if o and o.status is VenueOrderStatus.WORKING and o.filled)
    filled = sum(1 for o in orders if o and o.status is VenueOrderStatus.FILLED)
    profile = PROFILES[mode]
    tolerance = 0.02
    assert abs(filled / N - profile.fill) <= tolerance
    assert abs(partial / N - profile.partial) <= tolerance
    assert abs(rejected / N - profile.reject) <= tolerance
    assert abs(pending / N - profile.delay) <= tolerance
    if pending:
        scheduler.advance(low - 1.0 - 0.01)
        still = [venue.order(p) for p in perm_ids]
        assert sum(1 for o in still if o and o.status is VenueOrderStatus.PENDING_SUBMIT) == pending
        scheduler.advance(high - low + 1.0)
        after = [venue.order(p) for p in perm_ids]
        assert not [o for o in after if o and o.status is VenueOrderStatus.PENDING_SUBMIT]


def test_instant_mode_never_leaves_anything_pending() -> None:
    venue = SimVenue(5, ChaosMode.INSTANT, starting_cash=Decimal("1e9"))
    perm_ids = _flood(venue, 300)
    statuses = Counter(venue.order(p).status for p in perm_ids)  # type: ignore[union-attr]
    assert statuses == {VenueOrderStatus.FILLED: 300}


def test_chaos_switches_at_runtime() -> None:
    venue = SimVenue(77, ChaosMode.INSTANT, starting_cash=Decimal("1e9"))
    first = _flood(venue, 200)
    venue.set_chaos(ChaosMode.ADVERSARIAL)
    assert venue.chaos is ChaosMode.ADVERSARIAL
    second = _flood(venue, 400)
    venue.set_chaos(ChaosMode.INSTANT)
    third = _flood(venue, 200)
    outcome = {p: venue.order(p).outcome for p in first + second + third}  # type: ignore[union-attr]
    assert {outcome[p] for p in first} == {Outcome.FILL}
    assert {outcome[p] for p in third} == {Outcome.FILL}
    drawn = Counter(outcome[p] for p in second)
    assert drawn[Outcome.REJECT] > 10 and drawn[Outcome.PARTIAL] > 20 and drawn[Outcome.DELAY] > 5


def test_chaos_rejections_carry_code_201() -> None:
    from broker.sim import OrderEventKind, VenueOrderEvent

    venue = SimVenue(99, ChaosMode.ADVERSARIAL, starting_cash=Decimal("1e9"))
    codes: list[int] = []
    venue.subscribe(
        lambda e: (
            codes.append(e.code)
            if isinstance(e, VenueOrderEvent) and e.kind is OrderEventKind.REJECTED
            else None
        )
    )
    _flood(venue, 300)
    venue.scheduler.advance(1.0)  # type: ignore[attr-defined]
    assert codes and set(codes) == {201}
