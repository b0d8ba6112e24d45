"""The `deskgate` process freezes its start-up heap once the engine runs; other apps do not."""

from __future__ import annotations

import gc

import pytest

from console.tui.app import DeskgateApp
from engine.clock import ManualClock
from tests.console.conftest import wait_for
from tests.console.fakes import FakeEngine


@pytest.mark.parametrize("settle", [True, False])
async def test_the_start_up_heap_is_frozen_only_when_asked(settle: bool) -> None:
    gc.unfreeze()
    engine = FakeEngine(clock=ManualClock())
    engine.started = False  # the app starts it
    app = DeskgateApp(engine, config=engine.config)
    app.settle_heap_when_started = settle
    try:
        async with app.run_test() as pilot:
            await wait_for(pilot, lambda: app.started)
            await pilot.pause()
            assert (gc.get_freeze_count() > 0) is settle
    finally:
        gc.unfreeze()
