"""The gateway desk the ops tests share: Engine -> IbkrBroker (real ib_async) -> gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.config import Config
from contracts.enums import OrderType, Side
from contracts.intent import ExecutionStyle, Intent, OrderParams
from engine.engine import Engine
from tests.support import config_with, make_intent

CLIENT_ID = 13


@dataclass
class Desk:
    gateway: GatewayServer
    broker: IbkrBroker
    engine: Engine

    def quote(self, symbol: str = "AAPL") -> tuple[Decimal, Decimal]:
        """The venue's bid/ask, re-sent so the engine holds a fresh two-sided quote."""
        q = self.gateway.venue.quote(symbol)
        self.gateway.venue.set_price(symbol, q.bid, q.ask)
        return q.bid, q.ask

    def venue_order(self, intent_id: str) -> object | None:
        ref = f"dg:{intent_id}:ENTRY"
        found = [o for o in self.gateway.venue.orders() if o.order_ref == ref]
        return found[0] if found else None


def desk_config(**risk: object) -> Config:
    config = config_with(
        max_trades_per_day=1000, max_position=Decimal(100_000), require_stop=False, **risk
    )
    return config.model_copy(
        update={"risk": config.risk.model_copy(update={"duplicate_window_s": 0.0})}
    )


@asynccontextmanager
async def gateway_desk(data_dir: Path, config: Config | None = None) -> AsyncIterator[Desk]:
    async with running_gateway(seed=5) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        engine = Engine(config or desk_config(), broker, data_dir=data_dir)
        await engine.start()
        desk = Desk(gateway, broker, engine)
        await engine.watch_quote(make_intent(engine.clock).order.instrument)
        try:
            yield desk
        finally:
            await engine.stop()


def styled_intent(
    desk: Desk,
    *,
    quantity: int,
    limit: Decimal,
    style: ExecutionStyle,
    side: Side = Side.BUY,
) -> Intent:
    """A limit order without bracket exits, worked in `style`."""
    base = make_intent(desk.engine.clock, quantity=quantity, stop_loss=None, side=side)
    order = OrderParams(
        instrument=base.order.instrument,
        side=side,
        quantity=Decimal(quantity),
        order_type=OrderType.LIMIT,
        limit_price=limit,
        execution=style,
    )
    return base.model_copy(update={"order": order})
