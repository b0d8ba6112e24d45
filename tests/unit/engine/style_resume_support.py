"""A fake desk for restarting an engine mid-style: the broker's orders outlive the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from contracts.enums import OrderType
from contracts.events import OrderModified, parse_event
from contracts.intent import ExecutionStyle, OrderParams
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent

WORST = Decimal("100.02")


class VenueBroker(FakeBroker):
    """The fake broker whose modifies change the working order (as the venue's do), recorded;
    `cancel_all` may be made to leave the orders working (a kill the broker never confirmed)."""

    def __init__(self, clock: ManualClock, working: dict | None = None) -> None:  # type: ignore[type-arg]
        super().__init__(clock)
        self.modifies: list[tuple[Decimal | None, Decimal | None]] = []
        self.cancel_all_works = True
        if working is not None:
            self.working = working

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        self.modifies.append((quantity, limit_price))
        order = self.working[order_ref]
        update: dict[str, object] = {}
        if quantity is not None:
            update |= {"quantity": quantity, "remaining": quantity - order.filled}
        if limit_price is not None:
            update["limit_price"] = limit_price
        self.working[order_ref] = order.model_copy(update=update)

    async def cancel_all(self) -> None:
        if self.cancel_all_works:
            await super().cancel_all()
        else:
            self.cancel_all_calls += 1


@dataclass
class RestartDesk:
    """One data dir, one clock, and the broker's orders, across engine restarts."""

    data_dir: Path
    clock: ManualClock = field(default_factory=ManualClock)
    working: dict = field(default_factory=dict)  # type: ignore[type-arg]
    waits: list[float] = field(default_factory=list)
    engine: Engine | None = None
    broker: VenueBroker | None = None

    async def sleep(self, seconds: float) -> None:
        """The runners' wait: recorded, and the clock moves by it at once."""
        self.waits.append(seconds)
        self.clock.advance(seconds)

    async def start(self, *, sleeping: bool = True) -> Engine:
        self.broker = VenueBroker(self.clock, self.working)
        self.engine = Engine(
            config_with(require_stop=False), self.broker, data_dir=self.data_dir, clock=self.clock
        )
        if sleeping:
            self.engine.styles.sleep = self.sleep
        await self.engine.start()
        return self.engine

    async def stop(self) -> None:
        assert self.engine is not None
        await self.engine.stop()
        self.engine.store.close()


def style_of(kind: str) -> ExecutionStyle:
    return ExecutionStyle(
        kind=kind,  # type: ignore[arg-type]
        reprice_every_s=300.0,
        max_reprices=10,
        worst_price=WORST,
        window_s=3000.0,
        slices=5,
    )


async def approve_styled(engine: Engine, broker: VenueBroker, kind: str) -> str:
    """A 10-share limit buy at 99.95 worked in `kind`, approved and sent."""
    clock = broker.clock
    assert isinstance(clock, ManualClock)
    broker.quote("AAPL", "99.99", "100.01")
    base = make_intent(clock, quantity=10, stop_loss=None)
    order = OrderParams(
        instrument=base.order.instrument,
        side=base.order.side,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("99.95"),
        execution=style_of(kind),
    )
    intent = base.model_copy(update={"order": order})
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    return intent.intent_id


def steps(engine: Engine) -> list[OrderModified]:
    engine.recorder.flush()
    events = (parse_event(r.payload) for r in engine.store.tail(1000))
    return [e for e in events if isinstance(e, OrderModified)]


def alerts(engine: Engine, code: str) -> list[str]:
    engine.recorder.flush()
    return [r.payload for r in engine.store.tail(1000) if r.kind == "ALERT" and code in r.payload]
