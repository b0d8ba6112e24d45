"""The bot's stop move and exit on the gateway (real ib_async): a broker modify of the working
stop leg, then the same leg moved through the market, which closes the trade with one order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.broker import order_ref_for
from contracts.enums import LifecycleState, OrderLeg
from engine.engine import Engine
from tests.support import approve_pending, config_with, eventually, make_intent


async def test_a_stop_move_then_an_exit_close_the_trade_at_the_venue(tmp_path: Path) -> None:
    async with running_gateway(seed=3) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, 12, connect_timeout_s=5)
        engine = Engine(config_with(), broker, data_dir=tmp_path)
        await engine.start()
        try:
            venue = gateway.venue
            q = venue.quote("AAPL")
            venue.set_price("AAPL", q.bid, q.ask)
            ask = q.ask
            intent = make_intent(
                engine.clock,
                quantity=10,
                limit=str(ask + Decimal("0.02")),
                stop_loss=str(ask - Decimal("0.10")),
                take_profit=str(ask + Decimal("1.00")),
            )
            await engine.watch_quote(intent.order.instrument)
            assert (await engine.propose(intent, "strategy")).accepted
            assert (await approve_pending(engine, intent.intent_id)).ok
            rec = engine.book.records[intent.intent_id]
            await eventually(lambda: rec.entry_filled == 10, timeout=10)
            stop_ref = order_ref_for(intent.intent_id, OrderLeg.STOP_LOSS)
            fill = rec.avg_price(OrderLeg.ENTRY)
            assert fill is not None

            widened = await engine.modify_stop(intent.intent_id, fill - 1, "attack: wider")
            assert not widened.ok
            moved = await engine.modify_stop(intent.intent_id, fill - Decimal("0.05"), "tighter")
            assert moved.ok, moved.message
            working = [o for o in venue.orders() if o.order_ref == stop_ref and o.is_open]
            assert [o.stop_price for o in working] == [fill - Decimal("0.05")]

            orders_before = len(venue.orders())
            q = venue.quote("AAPL")
            venue.set_price("AAPL", q.bid, q.ask)  # a fresh quote to price the exit against
            await eventually(lambda: engine.quote("AAPL") is not None)
            result = await engine.strategy_exit(intent.intent_id, "time", "no progress")
            assert result.ok, result.message
            await eventually(lambda: rec.state is LifecycleState.CLOSED, timeout=10)
            assert engine.book.positions["AAPL"].quantity == 0
            assert len(venue.orders()) == orders_before  # no order beyond the bracket
            assert not [o for o in venue.orders() if o.is_open]  # the target went with it (OCA)
            positions = {p.instrument.symbol: p.quantity for p in await broker.positions()}
            assert positions.get("AAPL", 0) == 0
            assert engine.store.verify().ok
        finally:
            await engine.stop()
