"""Start-up (issue 14): the console's first frame loads no IB adapter, plot or alert library,
and the IB adapter built after that frame still connects and keeps a kill pressed before it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.console import refusal
from console.compose import StartupRefused, build_session
from console.lazy_ibkr import LazyIbkrBroker
from contracts.config import Config
from contracts.enums import TradingState
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]

FIRST_FRAME = """
import gc, json, os, sys
from textual.app import App

run_async, display = App.run_async, App._display

async def headless(self, **_):
    return await run_async(self, headless=True, size=(120, 40))

def first_frame(self, screen, renderable):
    display(self, screen, renderable)
    if renderable is not None:
        status = str(self.screen.query_one("#status").render())
        report = {"status": status, "modules": sorted(sys.modules), "gc": gc.isenabled()}
        print(json.dumps(report), flush=True)
        os._exit(0)

App.run_async = headless
App._display = first_frame
from console.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""Runs the `deskgate` entry point headless and reports what is loaded when the first frame is
painted, then ends the process on the spot (nothing after that frame is under test)."""

NOT_BEFORE_THE_FIRST_FRAME = {"ib_async", "eventkit", "numpy", "plotext", "textual_plotext"}
"""The IB adapter's stack (ib_async pulls eventkit and numpy) and the latency plots."""

BUILT_AFTER_THE_FIRST_FRAME = {
    "broker.sim",
    "console.compose",
    "console.tui.screens.main",
    "console.tui.widgets.tables",
    "contracts.broker",
    "contracts.events",
    "engine.audit",
    "engine.engine",
    "engine.view",
}
"""The first frame draws the status bar only: the session (venue, store, engine), the engine's
event models and the main screen's panels load after it (issue 14)."""


def first_frame(tmp_path: Path, *options: str) -> tuple[str, set[str], bool]:
    """The status bar, the loaded modules and whether the garbage collector is on, for
    `deskgate OPTIONS` at its first painted frame."""
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    argv = [*options, "--no-demo", "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], set(report["modules"]), report["gc"]


@pytest.mark.parametrize(
    ("options", "badge", "also_not"),
    [
        (("--broker", "sim"), "SIM", set()),
        ((), "SIM", {"broker.ibkr", "broker.gateway"}),  # the embedded gateway, the default
    ],
    ids=["sim", "embedded-gateway"],
)
def test_the_first_frame_loads_no_adapter_and_no_plot(
    tmp_path: Path, options: tuple[str, ...], badge: str, also_not: set[str]
) -> None:
    status, modules, collecting = first_frame(tmp_path, *options)
    assert badge in status and "connecting" in status  # the console, before the engine connects
    assert collecting  # off only while the console is imported and built
    top_level = {name.split(".")[0] for name in modules}
    assert not top_level & NOT_BEFORE_THE_FIRST_FRAME, top_level & NOT_BEFORE_THE_FIRST_FRAME
    assert not modules & also_not, modules & also_not
    assert not modules & BUILT_AFTER_THE_FIRST_FRAME, modules & BUILT_AFTER_THE_FIRST_FRAME


async def test_a_kill_before_the_connection_holds_and_is_confirmed_once_connected(
    tmp_path: Path,
) -> None:
    """The default embedded gateway: nothing of the adapter exists until it is used; a kill
    pressed before the connection halts at once and is confirmed with the broker after it."""
    config = Config.model_validate({"intake": {"demo": False}})
    session = build_session(config, data_dir=tmp_path, demo=False)
    engine = session.engine
    assert isinstance(engine.broker, LazyIbkrBroker)
    try:
        await session.start_venue()
        killed = await engine.kill("before the connection", actor="trader")
        assert killed.ok, killed.message
        assert engine.snapshot().trading_state is TradingState.HALTED
        await engine.start()
        assert engine.broker.connected
        await eventually(lambda: engine.snapshot().kill_confirmed, timeout=10)
        assert engine.snapshot().trading_state is TradingState.HALTED
    finally:
        await session.close()


def test_a_refusal_found_behind_the_first_frame_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The session is built after the first frame; its refusals (live gates, a store that
    cannot open...) end the console with the same one line as before the console was drawn."""
    assert refusal(StartupRefused("live mode refused: gate 8 open")) == 2
    err = capsys.readouterr().err
    assert err == "deskgate: live mode refused: gate 8 open\n"
    with pytest.raises(RuntimeError):  # a bug is not a refusal: its traceback shows
        refusal(RuntimeError("a bug"))
