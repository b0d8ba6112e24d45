"""The live plugin against a hand-written engine: 5-second bars in, an intent out, fills back,
records persisted and read by `deskgate journal` / `deskgate learning`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from console.cli import main
from contracts.broker import AccountSnapshot, BarUpdated
from contracts.config import Config
from contracts.enums import OrderLeg, Side
from contracts.events import FillRecorded
from contracts.market import Bar
from contracts.strategy import StrategyConfig
from engine.bus import EventBus
from engine.clock import ManualClock
from engine.results import CommandResult, ProposalResult
from engine.strategy.manager import RequestExit
from engine.strategy.plugin import make_plugin
from engine.strategy.store import RECORDS_FILE
from tests.support import eventually
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import MES


class FakeBroker:
    name = "fake"

    def __init__(self) -> None:
        self.bar_subscriptions: list[str] = []

    async def contract_details(self, instrument: Any) -> list[Any]:
        return [MES] if instrument.symbol == "MES" else []

    async def subscribe_bars(self, instrument: Any) -> None:
        self.bar_subscriptions.append(instrument.symbol)


@dataclass
class FakeEngine:
    config: Config
    clock: ManualClock
    bus: EventBus
    broker: FakeBroker

    def snapshot(self) -> Any:
        account = AccountSnapshot(
            account_id="DU1", is_paper=True, net_liquidation=Decimal(10000), ts=self.clock.now()
        )
        return SimpleNamespace(account=account)

    async def watch_quote(self, instrument: Any) -> None:
        return None

    async def watch_bars(self, instrument: Any) -> bool:
        await self.broker.subscribe_bars(instrument)
        return True

    async def cancel(self, intent_id: str, reason: str) -> None:
        return None

    async def kill(self, reason: str, actor: str) -> None:
        return None


@dataclass
class HookedEngine(FakeEngine):
    """With the engine hooks: exits and stop moves are recorded and confirmed."""

    exits: list[tuple[str, str]] = field(default_factory=list)

    async def strategy_exit(self, intent_id: str, reason: str, text: str) -> CommandResult:
        self.exits.append((intent_id, reason))
        return CommandResult(True, "stop leg moved through the market")


def five_second_bars(minute_bars: list[Any]) -> list[Bar]:
    out = []
    for m in minute_bars:
        for i in range(12):
            first, last = i == 0, i == 11
            price = m.close if last else m.open
            out.append(
                Bar(
                    symbol="MES",
                    ts=m.ts + timedelta(seconds=5 * i),
                    seconds=5,
                    open=Decimal(str(m.open if first else price)),
                    high=Decimal(str(m.high if i == 5 else max(m.open, m.close))),
                    low=Decimal(str(m.low if i == 6 else min(m.open, m.close))),
                    close=Decimal(str(price)),
                    volume=Decimal(str(m.volume / 12)),
                )
            )
    return out


@pytest.mark.parametrize("hooked", [False, True])
async def test_plugin_proposes_from_live_bars_and_records_what_happened(tmp_path, capsys, hooked):
    """With the engine's exit hook, a confirmed exit's stop-leg fill carries the exit reason."""
    clock = ManualClock()
    kind = HookedEngine if hooked else FakeEngine
    engine = kind(Config(data_dir=str(tmp_path)), clock, EventBus(), FakeBroker())
    proposed = []

    async def propose(intent: Any, source: str) -> ProposalResult:
        proposed.append(intent)
        return ProposalResult(True, intent.intent_id, "pending approval")

    plugin = make_plugin(StrategyConfig(), "K3", "MES")
    task = asyncio.create_task(plugin(propose, engine))
    await eventually(lambda: engine.broker.bar_subscriptions == ["MES"])
    for b in five_second_bars(scenes.k3_sweep_low()):
        engine.bus.publish(BarUpdated(ts=b.ts + timedelta(seconds=5), bar=b))
    await eventually(lambda: proposed)
    intent = proposed[0]
    assert intent.strategy == "K3" and intent.evidence.risk_parameters["risk_usd"] <= 15
    fill_ts = intent.state_ts + timedelta(minutes=1)
    common = {"ts_event": fill_ts, "ts_init": fill_ts, "intent_id": intent.intent_id, "perm_id": 1}
    engine.bus.publish(
        FillRecorded(
            **common,
            order_ref="e",
            leg=OrderLeg.ENTRY,
            exec_id="1",
            symbol="MES",
            side=Side.BUY,
            quantity=intent.order.quantity,
            price=intent.order.limit_price,
            cum_quantity=intent.order.quantity,
            remaining=Decimal(0),
        )
    )
    if isinstance(engine, HookedEngine):
        await eventually(lambda: intent.intent_id in plugin.runtime.positions)
        await eventually(lambda: plugin.runtime.positions[intent.intent_id].filled)
        exit_ = RequestExit(intent.intent_id, "MES", Side.SELL, 1, "time", "no progress")
        await plugin._act(exit_, propose, engine)
        assert engine.exits == [(intent.intent_id, "time")]
    engine.bus.publish(
        FillRecorded(
            **common,
            order_ref="s",
            leg=OrderLeg.STOP_LOSS,
            exec_id="2",
            symbol="MES",
            side=Side.SELL,
            quantity=intent.order.quantity,
            price=intent.order.stop_loss,
            cum_quantity=intent.order.quantity,
            remaining=Decimal(0),
        )
    )
    records = tmp_path / RECORDS_FILE
    await eventually(lambda: records.exists() and "STRATEGY_TRADE" in records.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    capsys.readouterr()
    assert main(["journal", "--file", str(records)]) == 0
    journal = capsys.readouterr().out
    assert "K3 proposes buy" in journal and ("(time)" if hooked else "(stop)") in journal
    assert main(["learning", "--file", str(records), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["K3"]["trades"] == 1 and state["K3"]["consecutive_losses"] == 1
    assert main(["journal", "--file", str(records), "--since", "2099-01-01"]) == 0
    assert "no journal lines" in capsys.readouterr().out


def test_factory_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy K7"):
        make_plugin(StrategyConfig(), "K1,K7")


async def test_an_exit_or_stop_move_the_engine_refuses_is_journaled(tmp_path):
    from engine.strategy.manager import Position, RequestModify
    from engine.strategy.runtime import StrategyRuntime
    from engine.strategy.templates import Setup

    class RefusingEngine(HookedEngine):
        async def strategy_exit(self, intent_id: str, reason: str, text: str) -> CommandResult:
            return CommandResult(False, f"{intent_id}: exit refused: the trade is CLOSED")

        async def modify_stop(self, intent_id: str, stop: Decimal, text: str) -> CommandResult:
            return CommandResult(False, f"{intent_id}: not sent: would widen the stop")

    clock = ManualClock()
    engine = RefusingEngine(Config(data_dir=str(tmp_path)), clock, EventBus(), FakeBroker())
    plugin = make_plugin(StrategyConfig(), "K3", "MES")
    plugin._engine = engine
    runtime = plugin.runtime = StrategyRuntime(
        plugin.config, {"MES": MES}, lambda r: None, equity=Decimal(10000)
    )
    setup = Setup("K3", 1, 0.7, ("F1",), 5000.0, 4999.0, 5004.0, "swept the low")
    runtime.positions["t1"] = Position(
        "t1", "K3", "live", "MES", 1, 1, 5000.0, 4998.0, 4998.0, 5004.0, 8, Decimal(10), setup
    )

    async def propose(intent: Any, source: str) -> ProposalResult:
        raise AssertionError("nothing is proposed")

    await plugin._act(RequestExit("t1", "MES", Side.SELL, 1, "time", "t"), propose, engine)
    await plugin._act(RequestModify("t1", Decimal("4997.00"), "wider"), propose, engine)
    codes = [(r.code, r.text) for r in runtime.journal.recent]
    assert codes[0][0] == "exit_refused" and "trade is CLOSED" in codes[0][1]
    assert codes[1][0] == "stop_move_refused" and "widen" in codes[1][1]
