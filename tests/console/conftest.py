"""Console test fixtures: frozen clocks, the fake engine, a polling helper, and `snap_compare`
writing SVGs to the repository's top-level `snapshots/` folder."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from pytest_textual_snapshot import SVGImageExtension
from syrupy import SnapshotAssertion
from syrupy.location import PyTestLocation
from textual.widgets import Input

from engine.clock import ManualClock
from tests.console.fakes import FakeEngine

SNAPSHOTS_DIR = Path(__file__).resolve().parents[2] / "snapshots"


class TopLevelSVGExtension(SVGImageExtension):
    """pytest-textual-snapshot's SVG extension, storing under `<repo>/snapshots/<test file>/`."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOTS_DIR / test_location.basename)


class _UseTopLevel:
    """Hands the plugin's `compare` our extension instead of its own."""

    def __init__(self, snapshot: SnapshotAssertion) -> None:
        self._snapshot = snapshot

    def use_extension(self, _extension: object) -> SnapshotAssertion:
        return self._snapshot.use_extension(TopLevelSVGExtension)


def _steady_cursor(self: Input) -> None:
    """The blink tick, with the cursor left shown: a picture must not depend on whether half a
    second passed between the last keystroke and the screenshot (it does on a busy machine)."""
    self._cursor_visible = True


@pytest.fixture
def snap_compare(
    snapshot: SnapshotAssertion, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Like the plugin's `snap_compare` (same report, same arguments), kept in `snapshots/`."""
    monkeypatch.setattr(Input, "_toggle_cursor", _steady_cursor)
    plugin_fixture = pytest_textual_snapshot.snap_compare.__wrapped__  # type: ignore[attr-defined]
    return plugin_fixture(_UseTopLevel(snapshot), request)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake_engine(clock: ManualClock) -> FakeEngine:
    return FakeEngine(clock=clock)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is truthy (fails after `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


def on_screen(app: Any) -> bool:
    """The engine started and the main screen shows the app's latest state (screens watch it,
    so they redraw a moment after the state changes)."""
    main = app.screen_stack[0] if app.screen_stack else None
    return bool(
        app.started
        and app.snapshot is not None
        and app.console_state is not None
        and getattr(main, "state", None) is app.console_state
    )


async def read_headline(pilot: Any, clock: ManualClock) -> None:
    """Keep the selected trade's headline on screen for the approve dwell time (frozen clock)."""
    await pilot.pause()
    clock.advance(pilot.app.config.console.approve_dwell_s)


def plain(renderable: Any, width: int = 120) -> str:
    """Render a Rich renderable to plain text (what the trader reads)."""
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def evidence_text(app: Any) -> str:
    from console.tui.widgets.evidence import EvidencePanel

    return "".join(plain(part) for part in app.screen.query_one(EvidencePanel).text())


def status_text(app: Any) -> str:
    from console.tui.widgets.status_bar import StatusBar

    return plain(app.screen.query_one(StatusBar).render(), width=400)
