"""`deskgate paper --strategies`: sim/paper only, every bot intent approved through its token by
the named, audited paper-drill approver, and nothing else approved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from console.cli import main
from console.drills.paper_bot import APPROVER, POLICY_NAME, DrillApprover, run_paper_bot
from contracts.broker import AccountSnapshot
from contracts.config import Config
from contracts.enums import LifecycleState
from contracts.events import AutoApprovePolicySet, TokenUsed, parse_event
from contracts.strategy import StrategyConfig
from engine.clock import ManualClock
from engine.engine import Engine
from engine.strategy.plugin import make_plugin
from tests.support import FakeBroker, config_with, eventually, make_intent


class LiveAccountBroker(FakeBroker):
    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(account_id="U7654321", is_paper=False, ts=self.clock.now())


def beads(engine: Engine) -> list[object]:
    engine.store.flush()
    return [parse_event(r.payload) for r in engine.store.rows()]


async def test_the_approver_names_itself_in_every_approval_and_approves_only_the_bot(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    broker = FakeBroker(clock)
    approver = DrillApprover(("AAPL",), 2)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock, sources=[approver])
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    traders = make_intent(clock)
    assert (await engine.propose(traders, "console")).accepted
    bot = make_intent(clock)
    assert (await engine.propose(bot, "strategy")).accepted
    await asyncio.sleep(0)  # let the approver reach its wait (not a synchronisation)
    assert engine.book.records[bot.intent_id].state is LifecycleState.PROPOSED  # not cleared yet
    approver.cleared.set()
    await eventually(lambda: approver.approved == [bot.intent_id])
    later = make_intent(clock, limit="100.01")
    assert (await engine.propose(later, "strategy")).accepted
    await eventually(lambda: later.intent_id in approver.approved)
    events = beads(engine)
    policy = [e for e in events if isinstance(e, AutoApprovePolicySet)]
    assert [p.policy for p in policy] == [POLICY_NAME] and APPROVER in policy[0].reason
    used = [e for e in events if isinstance(e, TokenUsed)]
    assert {u.intent_id for u in used} == {bot.intent_id, later.intent_id}
    assert all(u.actor == APPROVER for u in used)
    assert engine.book.records[traders.intent_id].state is LifecycleState.PROPOSED
    assert engine.pending_token(traders.intent_id) is not None  # the trader's to approve
    await engine.stop()


def test_paper_strategies_refuses_a_live_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "live.toml"
    path.write_text(
        f'mode = "live"\naccount = "U7654321"\ndata_dir = "{tmp_path / "data"}"\n'
        '[broker]\nkind = "ibkr"\nhost = "127.0.0.1"\nport = 9\n'
    )
    path.chmod(0o600)
    code = main(["paper", "--strategies", "K1,K2", "--config", str(path), "--duration", "5s"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("deskgate: ") and "never on a live account" in err[0]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.sqlite"))


async def test_a_live_account_behind_a_paper_config_is_refused_before_any_approval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import console.compose as compose

    clock = ManualClock()
    built: list[Engine] = []

    class Session:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine

        async def start_venue(self) -> None:
            return None

        async def close(self) -> None:
            await self.engine.stop()

    def build_session(config: Config, **kw: object) -> Session:
        sources = kw["sources"]
        engine = Engine(config, LiveAccountBroker(clock), data_dir=tmp_path / "d", clock=clock,
                        sources=sources)  # type: ignore[arg-type]  # fmt: skip
        built.append(engine)
        return Session(engine)

    monkeypatch.setattr(compose, "build_session", build_session)
    plugin = make_plugin(StrategyConfig(), "K1", "MES")
    config = Config(mode="paper", data_dir=str(tmp_path / "data"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="live account"):
        await run_paper_bot(config, plugin, 60.0, tmp_path / "out")
    assert built and built[0].book.trading_state.value == "HALTED"
    assert not (tmp_path / "out").exists()


async def test_a_short_sim_drill_writes_its_summary(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"mode": "sim", "data_dir": str(tmp_path / "data"), "broker": {"kind": "sim"}}
    )
    plugin = make_plugin(config.strategy, "K1,K2,K3,K4,K5", "MES")
    result = await run_paper_bot(config, plugin, 1.0, tmp_path / "out")
    summary = json.loads(result.summary_path.read_text())
    assert summary["approver"] == APPROVER and summary["mode"] == "sim"
    assert summary["strategies"] == ["K1", "K2", "K3", "K4", "K5"]
    assert summary["approvals"] == result.approved == 0
