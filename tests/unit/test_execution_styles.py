"""Execution styles: limit_patience reprices toward the touch inside worst_price; twap grows one
order by slices; both stop at once when HALTED and never pass what was approved."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.enums import OrderType, Side
from contracts.intent import ExecutionStyle, Instrument, OrderParams
from engine.execution_styles import StyleRunner, first_child_quantity, slice_schedule

TICK = Decimal("0.25")


@dataclass
class FakeOrderPath:
    touches: list[Decimal | None]
    filled: Decimal = Decimal(0)
    working: bool = True
    halt_after: int | None = None
    refuse: bool = False
    modifies: list[tuple[Decimal, Decimal | None]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    async def modify_entry(
        self, intent_id: str, *, limit_price: Decimal, quantity: Decimal | None = None
    ) -> bool:
        if self.refuse:
            return False
        self.modifies.append((limit_price, quantity))
        return True

    async def cancel_entry(self, intent_id: str, reason: str) -> None:
        self.cancels.append(reason)
        self.working = False

    def entry_filled(self, intent_id: str) -> Decimal:
        return self.filled

    def entry_working(self, intent_id: str) -> bool:
        return self.working

    def touch(self, symbol: str, side: Side) -> Decimal | None:
        return self.touches.pop(0) if self.touches else None

    def halted(self) -> bool:
        return self.halt_after is not None and len(self.sleeps) > self.halt_after

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def params(side: Side = Side.BUY, **style: object) -> OrderParams:
    return OrderParams(
        instrument=Instrument(symbol="MES", sec_type="FUT", exchange="CME"),
        side=side,
        quantity=Decimal(4),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("5000.00"),
        execution=ExecutionStyle.model_validate(style),
    )


def runner(p: OrderParams, port: FakeOrderPath) -> StyleRunner:
    return StyleRunner("i-1", p, tick=TICK, size_increment=Decimal(1), port=port, sleep=port.sleep)


async def test_patience_steps_toward_the_ask_by_at_most_its_ticks_and_stops_at_worst() -> None:
    p = params(kind="limit_patience", worst_price="5001.00", reprice_ticks=2, max_reprices=4)
    port = FakeOrderPath(touches=[Decimal("5003.00")] * 5)
    progress = await runner(p, port).run()
    prices = [price for price, _ in port.modifies]
    assert prices == [Decimal("5000.50"), Decimal("5001.00")]  # +2 ticks, then the bound
    assert all(price <= Decimal("5001.00") for price in prices)
    assert progress.outcome == "timed out: rest cancelled" and port.cancels


async def test_patience_crosses_at_the_touch_inside_worst_when_told_to() -> None:
    p = params(kind="limit_patience", worst_price="5002.00", max_reprices=1, on_timeout="cross")
    port = FakeOrderPath(touches=[Decimal("5000.00"), Decimal("5000.75")])
    progress = await runner(p, port).run()
    assert port.modifies == [(Decimal("5000.75"), None)]
    assert progress.outcome == "crossed at 5000.75" and not port.cancels


async def test_a_sell_steps_down_toward_the_bid() -> None:
    p = params(Side.SELL, kind="limit_patience", worst_price="4999.00", max_reprices=1)
    port = FakeOrderPath(touches=[Decimal("4998.00")])
    await runner(p, port).run()
    assert port.modifies[0] == (Decimal("4999.75"), None)


async def test_the_kill_switch_stops_a_working_style_at_once() -> None:
    p = params(kind="limit_patience", worst_price="5010.00", max_reprices=10)
    port = FakeOrderPath(touches=[Decimal("5005.00")] * 20, halt_after=2)
    progress = await runner(p, port).run()
    assert progress.outcome == "halted: kill switch"
    assert len(port.modifies) == 2  # nothing more after the halt
    assert not port.cancels  # the kill switch's own global cancel takes the order


async def test_a_filled_order_ends_the_style() -> None:
    p = params(kind="limit_patience", worst_price="5010.00")
    port = FakeOrderPath(touches=[], filled=Decimal(4))
    assert (await runner(p, port).run()).outcome == "filled"


async def test_a_refused_modify_leaves_the_order_and_the_known_price_as_they_were() -> None:
    p = params(kind="limit_patience", worst_price="5010.00", max_reprices=2)
    port = FakeOrderPath(touches=[Decimal("5005.00")] * 3, refuse=True)
    progress = await runner(p, port).run()
    assert progress.limit_price == Decimal("5000.00") and progress.steps == 0
    assert any("refused" in h for h in progress.history)


async def test_twap_grows_one_order_by_slices_and_never_past_the_approval() -> None:
    p = params(kind="twap", worst_price="5001.00", slices=4, window_s=60)
    port = FakeOrderPath(touches=[Decimal("5000.50"), Decimal("5002.00"), None])
    progress = await runner(p, port).run()
    assert first_child_quantity(p, Decimal(1)) == Decimal(1)
    assert port.modifies == [
        (Decimal("5000.50"), Decimal(2)),
        (Decimal("5001.00"), Decimal(3)),  # the ask went past worst: capped
        (Decimal("5001.00"), Decimal(4)),  # no quote: price kept
    ]
    assert port.sleeps == [15.0] * 4
    assert progress.outcome == "window ended: rest cancelled"


def test_slices_are_whole_increments_with_the_remainder_last() -> None:
    assert slice_schedule(Decimal(10), 3, Decimal(1)) == [Decimal(3), Decimal(6), Decimal(10)]
    assert slice_schedule(Decimal(2), 5, Decimal(1)) == [Decimal(1), Decimal(2)]


@pytest.mark.parametrize(
    ("style", "extra", "message"),
    [
        ({"kind": "twap"}, {}, "needs a worst_price"),
        ({"kind": "twap", "worst_price": "4999"}, {}, "already past worst_price"),
        (
            {"kind": "limit_patience", "worst_price": "5001"},
            {"stop_loss": "4990"},
            "cannot carry bracket exits",
        ),
    ],
)
def test_styles_are_refused_when_they_could_pass_the_approval(
    style: dict[str, str], extra: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        OrderParams(
            instrument=Instrument(symbol="MES"),
            side=Side.BUY,
            quantity=Decimal(4),
            order_type=OrderType.LIMIT,
            limit_price=Decimal("5000"),
            execution=ExecutionStyle.model_validate(style),
            **extra,  # type: ignore[arg-type]
        )
