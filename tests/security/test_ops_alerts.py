"""Attacks on off-screen alerts: a stuck notification service never holds up a trading path, and
a bad apprise URL is refused without echoing its secret."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.compose import TerminalHook, alert_dispatcher, build_session
from contracts.config import AlertsConfig, Config, ConfigError
from contracts.enums import AlertLevel, TradingState
from engine.notify import Notification
from tests.support import approve_pending, eventually, make_intent, started_engine


class StuckSink:
    """A notification service that accepts the connection and never answers."""

    name = "stuck"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, notification: Notification) -> None:
        self.entered.set()
        await self.release.wait()


async def test_a_stuck_sink_never_holds_up_approve_or_kill(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    dispatcher = alert_dispatcher(Config(), engine, TerminalHook())
    assert dispatcher is not None
    stuck = StuckSink()
    dispatcher.add_sink(stuck)
    dispatcher.start()
    try:
        engine.alert(AlertLevel.CRITICAL, "STALLED", "first ring", "x")
        await eventually(stuck.entered.is_set)
        for n in range(500):  # a flood while the sink hangs: the bus never waits
            engine.alert(AlertLevel.CRITICAL, "DISCONNECTED", f"flood {n}")
        intent = make_intent(clock)
        proposed = await engine.propose(intent)
        assert proposed.accepted, proposed.message
        approved = await approve_pending(engine, intent.intent_id)
        assert approved.ok, approved.message
        killed = await engine.kill("while the sink hangs")
        assert killed.ok, killed.message
        assert engine.book.trading_state is TradingState.HALTED
        await eventually(lambda: broker.cancel_all_calls >= 1)  # the global cancel went out
        assert not stuck.release.is_set()  # all of it happened while the sink was still stuck
    finally:
        stuck.release.set()
        await dispatcher.stop()
        await engine.stop()


def test_nothing_is_written_to_the_terminal_before_the_console_connects() -> None:
    hook = TerminalHook()
    hook("\a")  # no console yet: dropped, no error
    written: list[str] = []
    hook.connect(written.append)
    hook("\a")
    hook.disconnect()
    hook("\a")
    assert written == ["\a"]


def test_a_bad_apprise_url_is_refused_without_its_secret(tmp_path: Path) -> None:
    secret = "bot123456:SECRET-TOKEN"
    config = Config(
        broker=Config().broker.model_copy(update={"kind": "sim"}),
        alerts=AlertsConfig(apprise_urls=[f"nosuchservice://{secret}/chat"]),
    )
    with pytest.raises(ConfigError) as refused:
        build_session(config, data_dir=tmp_path, demo=False)
    assert "nosuchservice" in str(refused.value) and secret not in str(refused.value)
    session = build_session(Config(broker=config.broker), data_dir=tmp_path, demo=False)
    assert session.instance_lock is not None  # the refused build released the data dir
    session.instance_lock.release()
