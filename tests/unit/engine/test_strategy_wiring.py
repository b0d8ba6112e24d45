"""The engine side of the bot: bars on the bus, bar subscriptions, strategy records as beads."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from console.cli import main
from contracts.broker import BarUpdated
from contracts.intent import Instrument
from contracts.market import Bar
from engine.clock import ManualClock
from engine.engine import Engine
from engine.strategy.records import DecisionRecord
from engine.strategy.store import records_from_beads
from tests.support import FakeBroker, config_with, started_engine

MES = Instrument(symbol="MES", sec_type="FUT", exchange="CME", tick_size=Decimal("0.25"))


class BarsBroker(FakeBroker):
    """The test broker with the optional bars port."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.bar_subscriptions: list[str] = []

    async def subscribe_bars(self, instrument: Instrument) -> None:
        self.bar_subscriptions.append(instrument.symbol)


async def test_a_broker_bar_reaches_the_bus(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    sub = engine.bus.subscribe(100)
    price = Decimal("5700.00")
    bar = Bar(
        symbol="MES", ts=clock.now(), seconds=5, open=price, high=price, low=price, close=price
    )
    broker.sink(BarUpdated(ts=clock.now(), bar=bar))

    async def next_bar() -> object:
        while not isinstance(item := await sub.get(), BarUpdated):
            pass
        return item

    assert (await asyncio.wait_for(next_bar(), 5)).bar == bar  # type: ignore[attr-defined]
    await engine.stop()


async def test_bars_are_subscribed_once_and_a_broker_without_bars_says_so(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    assert await engine.watch_bars(MES) is False  # FakeBroker has no bars port
    await engine.stop()

    clock = ManualClock()
    broker = BarsBroker(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path / "b", clock=clock)
    await engine.start()
    assert await engine.watch_bars(MES) and await engine.watch_bars(MES)
    assert broker.bar_subscriptions == ["MES"]
    await engine.stop()


async def test_a_strategy_record_is_an_audit_bead_the_journal_reads(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    engine, _, clock = await started_engine(tmp_path)
    record = DecisionRecord(
        ts=clock.now(),
        strategy="K2",
        symbol="MES",
        mode="LIVE",
        action="SKIP",
        code="no_break",
        text="K2 skipped: no failed break above 5,031.25 in the last 6 bars",
    )
    engine.record_strategy(record)
    engine.recorder.flush()
    assert list(records_from_beads(engine.strategy_rows())) == [record]
    assert engine.store.verify().ok
    await engine.stop()
    capsys.readouterr()
    assert main(["journal", "--data-dir", str(tmp_path)]) == 0
    assert "K2 skipped: no failed break above 5,031.25" in capsys.readouterr().out
