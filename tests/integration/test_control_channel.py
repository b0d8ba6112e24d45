"""`deskgate status --json` and `deskgate kill` from another process, against a real engine
(sim venue) serving its control socket; the kill is the engine's own, broker-confirmed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from console.compose import Session
from contracts.enums import LifecycleState, TradingState
from contracts.intent import Instrument
from engine.control import CONTROL_SOCKET
from engine.engine import Engine
from tests.integration.control_support import deskgate
from tests.support import approve_pending, eventually, make_intent

AAPL = Instrument(symbol="AAPL")


async def resting_order(engine: Engine, quantity: int = 10) -> str:
    """A limit buy 1.5 % under the bid: acknowledged, working, never filled."""
    quote = await engine.watch_quote(AAPL)
    assert quote is not None and quote.bid is not None
    limit = (quote.bid * Decimal("0.985")).quantize(Decimal("0.01"))
    intent = make_intent(
        engine.clock,
        quantity=quantity,
        limit=str(limit),
        stop_loss=str(limit - Decimal("0.10")),
    )
    assert (await engine.propose(intent, source="test")).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    iid = intent.intent_id
    await eventually(lambda: engine.book.records[iid].state is LifecycleState.SUBMITTED, 10)
    return iid


async def test_status_json_from_another_process(control_session: Session, tmp_path: Path) -> None:
    iid = await resting_order(control_session.engine)
    code, out, err = await deskgate("status", "--json", "--data-dir", str(tmp_path))
    assert code == 0, err
    status = json.loads(out)
    assert status["trading_state"] == "ACTIVE"
    assert status["connection"]["connected"] is True
    assert [o["intent_id"] for o in status["working_orders"]] == [iid]
    assert {"realized_today", "unrealized", "total"} <= set(status["pnl"])
    assert "positions" in status and "alerts" in status
    assert "DU1234567" not in out  # the account id is masked
    code, text, _ = await deskgate("status", "--data-dir", str(tmp_path))
    assert code == 0 and "1 working" in text


async def test_kill_from_another_process_is_broker_confirmed(
    control_session: Session, tmp_path: Path
) -> None:
    engine = control_session.engine
    await resting_order(engine, 10)
    await resting_order(engine, 5)
    watcher = engine.bus.subscribe()  # what the console's worker drains
    code, out, err = await deskgate(
        "kill", "--reason", "terminal frozen", "--data-dir", str(tmp_path)
    )
    assert code == 0, out + err
    assert "kill confirmed by the broker" in out
    snap = engine.snapshot()
    assert snap.trading_state is TradingState.HALTED and snap.kill_confirmed is True
    assert not [o for o in snap.orders if o.state.is_working]
    assert any("terminal frozen" in a.message for a in snap.alerts)
    assert not watcher.queue.empty()  # the console is told at once: it is the same engine
    watcher.close()


async def test_status_without_an_engine_is_one_line(tmp_path: Path) -> None:
    code, _, err = await deskgate("status", "--data-dir", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(tmp_path / CONTROL_SOCKET) in err
