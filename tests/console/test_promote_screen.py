"""The promote screen (P) against the real engine: evidence, refusals, the typed T2 approval."""

from __future__ import annotations

import getpass
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from console.cli.promote import SHADOW_FILE
from console.tui.app import DeskgateApp
from console.tui.screens.main import MainScreen
from console.tui.screens.promote import PromoteScreen
from contracts.events import PromotionApproved, PromotionRefused, parse_event
from engine.clock import ManualClock
from engine.engine import Engine
from engine.promotion import Stage
from tests.console.conftest import on_screen, plain, wait_for
from tests.support import FakeBroker, config_with

STRATEGY = "breakout"


def real_app(tmp_path: Path, clock: ManualClock) -> tuple[DeskgateApp, Engine]:
    config = config_with().model_copy(update={"data_dir": str(tmp_path)})
    engine = Engine(config, FakeBroker(clock), data_dir=tmp_path, clock=clock)
    return DeskgateApp(engine, config=config, clock=clock), engine


def record_shadow_sessions(data_dir: Path, n: int = 20) -> None:
    sessions = [
        {
            "strategy": STRATEGY,
            "day": (date(2026, 10, 1) + timedelta(days=i)).isoformat(),
            "regime": ("TREND", "RANGE")[i % 2],
            "pnl": str(5 - i % 3),
            "max_drawdown_pct": "1.2",
            "sharpe": 0.9,
            "would_have_killed": 0,
            "decisions": 10,
            "overrides": 1,
        }
        for i in range(n)
    ]
    (data_dir / SHADOW_FILE).write_text(json.dumps({"sessions": sessions}))


def text(app: DeskgateApp, widget_id: str) -> str:
    """What a line of the screen says (tables rendered as the trader reads them)."""
    return plain(app.screen.query_one(widget_id, Static).content).strip()


def beads(engine: Engine, kind: type) -> list[Any]:
    engine.recorder.flush()
    events = (parse_event(r.payload) for r in engine.store.tail(500))
    return [e for e in events if isinstance(e, kind)]


async def ask_promotion(pilot: Any, app: DeskgateApp) -> None:
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.press("P")
    await wait_for(pilot, lambda: isinstance(app.screen, PromoteScreen))
    await pilot.press(*STRATEGY, "enter")


async def test_no_shadow_sessions_are_refused_with_reasons_on_the_record(
    tmp_path: Path, clock: ManualClock
) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_promotion(pilot, app)
        await wait_for(pilot, lambda: "REFUSED" in text(app, "#promote-result"))
        assert "incomplete evidence: sessions: 0 of 20" in text(app, "#promote-refusals")
        assert "sessions" in text(app, "#promote-evidence")
        assert not app.screen.query_one("#promote-approver", Input).display
        (refused,) = beads(engine, PromotionRefused)
        assert refused.strategy == STRATEGY
        assert engine.strategy_stage(STRATEGY) is Stage.SHADOW
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_a_typed_t2_approval_promotes_once(tmp_path: Path, clock: ManualClock) -> None:
    record_shadow_sessions(tmp_path)
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_promotion(pilot, app)
        await wait_for(pilot, lambda: app.screen.query_one("#promote-approver", Input).has_focus)
        assert text(app, "#promote-refusals") == ""
        assert "requested by" in text(app, "#promote-request")
        assert "20" in text(app, "#promote-evidence")
        await pilot.press(*"Kyle Risk", "enter")  # capital K is text here
        assert isinstance(app.screen, PromoteScreen)
        await pilot.press(*STRATEGY, "enter")
        await wait_for(pilot, lambda: "APPROVED" in text(app, "#promote-result"))
        assert engine.strategy_stage(STRATEGY) is Stage.LIVE
        (approved,) = beads(engine, PromotionApproved)
        assert approved.approver == "Kyle Risk"
        await pilot.press("enter")  # the token was single-use; nothing more happens
        assert len(beads(engine, PromotionApproved)) == 1


async def test_a_mistyped_confirmation_promotes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    record_shadow_sessions(tmp_path)
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_promotion(pilot, app)
        await wait_for(pilot, lambda: app.screen.query_one("#promote-approver", Input).has_focus)
        await pilot.press(*"cto", "enter", *"breakot", "enter")
        await wait_for(pilot, lambda: "REFUSED" in text(app, "#promote-result"))
        assert "typed confirmation did not match" in text(app, "#promote-result")
        assert engine.strategy_stage(STRATEGY) is Stage.SHADOW
        assert beads(engine, PromotionApproved) == []


async def test_the_requester_cannot_approve_their_own_promotion(
    tmp_path: Path, clock: ManualClock
) -> None:
    record_shadow_sessions(tmp_path)
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_promotion(pilot, app)
        await wait_for(pilot, lambda: app.screen.query_one("#promote-approver", Input).has_focus)
        await pilot.press(*getpass.getuser(), "enter", *STRATEGY, "enter")
        await wait_for(pilot, lambda: "REFUSED" in text(app, "#promote-result"))
        assert engine.strategy_stage(STRATEGY) is Stage.SHADOW
        assert beads(engine, PromotionApproved) == []
