"""Attacks on prices and caps: no quote, a stepped clock, one tick or one unit over every limit."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.broker import Quote
from contracts.enums import DenialReason as R
from contracts.enums import OrderType, Side
from engine.clock import ManualClock
from engine.engine import Engine
from engine.risk import RiskContext
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    make_intent,
    risk_context,
    risk_denials,
    started_engine,
)

CLOCK = ManualClock()
LOOSE = {"max_risk_per_trade": Decimal(10**6), "max_notional": Decimal(10**8)}
LOOSE_POSITION = {**LOOSE, "max_position": Decimal(10**6)}


def ctx(**kw: object) -> RiskContext:
    return risk_context(CLOCK, **kw)


denials = risk_denials


# --- fail closed without a two-sided, fresh quote -------------------------------------------

ONE_SIDED = {
    "bid only": {"bid": Decimal(100)},
    "ask only": {"ask": Decimal(100)},
    "last only": {"last": Decimal(100)},
    "zero bid": {"bid": Decimal(0), "ask": Decimal(100)},
    "nothing": {},
}


@pytest.mark.parametrize("sides", ONE_SIDED.values(), ids=ONE_SIDED.keys())
@pytest.mark.parametrize("order_type", [OrderType.LIMIT, OrderType.STOP])
def test_a_limit_at_150_against_a_100_market_without_a_two_sided_quote_is_refused(
    sides: dict[str, Decimal], order_type: OrderType
) -> None:
    quote = Quote(symbol="AAPL", ts=CLOCK.now(), **sides)  # type: ignore[arg-type]
    intent = make_intent(CLOCK, limit="150.00", stop_loss="149.90")
    if order_type is OrderType.STOP:
        intent = intent.model_copy(
            update={
                "order": intent.order.model_validate(
                    {
                        **intent.order.model_dump(),
                        "order_type": OrderType.STOP,
                        "limit_price": None,
                        "stop_price": Decimal("150.00"),
                    }
                )
            }
        )
    assert R.NO_QUOTE in denials(intent, ctx(quote=quote), **LOOSE)


class SteppingClock(ManualClock):
    """A clock whose wall time can jump without the monotonic clock moving with it."""

    def step_wall(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


async def test_a_backward_wall_clock_step_cannot_make_an_old_quote_fresh(tmp_path: Path) -> None:
    clock = SteppingClock()
    broker = FakeBroker(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    await engine.watch_quote(make_intent(clock).order.instrument)
    broker.quote("AAPL", "99.99", "100.01")
    clock.advance(60)  # a minute passes with no new quote...
    clock.step_wall(-60)  # ...and NTP steps the wall clock back by a minute
    result = await engine.propose(make_intent(clock))
    assert {d.reason for d in result.denials} == {R.STALE_QUOTE}
    assert "60.0s old" in result.message
    await engine.stop()


# --- every cap: exactly at it passes; one tick or one unit over is refused, both sides ------


def sell(**kw: object):  # type: ignore[no-untyped-def]
    return make_intent(CLOCK, side=Side.SELL, **kw)  # type: ignore[arg-type]


def buy(**kw: object):  # type: ignore[no-untyped-def]
    return make_intent(CLOCK, side=Side.BUY, **kw)  # type: ignore[arg-type]


CASES = [
    # quantity: max 500
    ("quantity at cap, buy", buy(quantity=500, stop_loss="99.99"), {}, LOOSE_POSITION, None),
    (
        "quantity +1 unit, buy",
        buy(quantity=501, stop_loss="99.99"),
        {},
        LOOSE_POSITION,
        R.MAX_ORDER_QUANTITY,
    ),
    ("quantity at cap, sell", sell(quantity=500, stop_loss="100.01"), {}, LOOSE_POSITION, None),
    (
        "quantity +1, sell",
        sell(quantity=501, stop_loss="100.01"),
        {},
        LOOSE_POSITION,
        R.MAX_ORDER_QUANTITY,
    ),
    # notional: 250 x 100.00 = 25,000 exactly
    (
        "notional at cap",
        buy(quantity=250, stop_loss="99.99"),
        {},
        {"max_risk_per_trade": 100},
        None,
    ),
    (
        "notional +1 tick",
        buy(quantity=250, limit="100.01", stop_loss="100.00"),
        {},
        {"max_risk_per_trade": 100},
        R.MAX_NOTIONAL,
    ),
    (
        "notional +1 unit",
        buy(quantity=251, stop_loss="99.99"),
        {},
        {"max_risk_per_trade": 100},
        R.MAX_NOTIONAL,
    ),
    (
        "notional at cap, sell",
        sell(quantity=250, stop_loss="100.01"),
        {},
        {"max_risk_per_trade": 100},
        None,
    ),
    (
        "notional +1 unit, sell",
        sell(quantity=251, stop_loss="100.01"),
        {},
        {"max_risk_per_trade": 100},
        R.MAX_NOTIONAL,
    ),
    # collar: 2% of mid 100.00 -> 102.00 buy / 98.00 sell
    ("collar at cap, buy", buy(quantity=1, limit="102.00", stop_loss="101.90"), {}, LOOSE, None),
    (
        "collar +1 tick, buy",
        buy(quantity=1, limit="102.01", stop_loss="101.91"),
        {},
        LOOSE,
        R.PRICE_COLLAR,
    ),
    ("collar at cap, sell", sell(quantity=1, limit="98.00", stop_loss="98.10"), {}, LOOSE, None),
    (
        "collar +1 tick, sell",
        sell(quantity=1, limit="97.99", stop_loss="98.09"),
        {},
        LOOSE,
        R.PRICE_COLLAR,
    ),
    # position: max 500 incl. working
    ("position at cap, buy", buy(stop_loss="99.99"), {"position": Decimal(490)}, LOOSE, None),
    (
        "position +1, buy",
        buy(stop_loss="99.99"),
        {"position": Decimal(491)},
        LOOSE,
        R.POSITION_LIMIT,
    ),
    ("position at cap, sell", sell(stop_loss="100.01"), {"position": Decimal(-490)}, LOOSE, None),
    (
        "position +1, sell",
        sell(stop_loss="100.01"),
        {"position": Decimal(-491)},
        LOOSE,
        R.POSITION_LIMIT,
    ),
    # risk per trade: $15 = 15 x 1.00 (stop 100 ticks; widen the stop cap)
    ("risk at cap", buy(quantity=15, stop_loss="99.00"), {}, {"max_stop_ticks": 1000}, None),
    (
        "risk +1 tick",
        buy(quantity=15, stop_loss="98.99"),
        {},
        {"max_stop_ticks": 1000},
        R.MAX_RISK_PER_TRADE,
    ),
    (
        "risk +1 unit",
        buy(quantity=16, stop_loss="99.00"),
        {},
        {"max_stop_ticks": 1000},
        R.MAX_RISK_PER_TRADE,
    ),
    (
        "risk at cap, sell",
        sell(quantity=15, stop_loss="101.00"),
        {},
        {"max_stop_ticks": 1000},
        None,
    ),
    (
        "risk +1 tick, sell",
        sell(quantity=15, stop_loss="101.01"),
        {},
        {"max_stop_ticks": 1000},
        R.MAX_RISK_PER_TRADE,
    ),
    # stop distance: 12 ticks
    ("stop at cap", buy(stop_loss="99.88"), {}, LOOSE, None),
    ("stop +1 tick", buy(stop_loss="99.87"), {}, LOOSE, R.STOP_DISTANCE),
    # working orders per contract and side: 5
    ("working at cap", buy(), {"working_orders_same_side": 4}, LOOSE, None),
    ("working +1", buy(), {"working_orders_same_side": 5}, LOOSE, R.MAX_WORKING_ORDERS),
    (
        "working at cap, sell",
        sell(stop_loss="100.10"),
        {"working_orders_same_side": 4},
        LOOSE,
        None,
    ),
    (
        "working +1, sell",
        sell(stop_loss="100.10"),
        {"working_orders_same_side": 5},
        LOOSE,
        R.MAX_WORKING_ORDERS,
    ),
]


@pytest.mark.parametrize(
    ("intent", "ctx_kw", "risk_kw", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_cap_holds_exactly_at_its_value(intent, ctx_kw, risk_kw, reason) -> None:  # type: ignore[no-untyped-def]
    quote = Quote(symbol="AAPL", bid=Decimal("99.99"), ask=Decimal("100.01"), ts=CLOCK.now())
    found = denials(intent, ctx(quote=quote, **ctx_kw), **risk_kw)
    assert found == (set() if reason is None else {reason})


async def test_a_sixth_working_order_in_one_contract_and_side_is_refused(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=100, max_position=Decimal(10**6))
    engine, broker, clock = await started_engine(tmp_path, config)
    for n in range(5):
        intent = make_intent(clock, quantity=1 + n)
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
    sixth = await engine.propose(make_intent(clock, quantity=7))
    assert {d.reason for d in sixth.denials} == {R.MAX_WORKING_ORDERS}
    other_side = await engine.propose(make_intent(clock, side=Side.SELL, stop_loss="100.10"))
    assert other_side.accepted, other_side.message
    assert len(broker.entries()) == 5
    await engine.stop()


def test_quote_age_in_the_future_is_not_fresh() -> None:
    ahead = Quote(
        symbol="AAPL",
        bid=Decimal("99.99"),
        ask=Decimal("100.01"),
        ts=datetime(2030, 1, 1, tzinfo=CLOCK.now().tzinfo),
    )
    assert R.STALE_QUOTE in denials(make_intent(CLOCK), ctx(quote=ahead))
