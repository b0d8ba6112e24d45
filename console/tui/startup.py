"""The console's start-up: a light first screen, and the keys held back until the engine is up."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.actions import ActionParseResult, parse
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from console.tui.first_frame import ENGINE_STARTING
from console.tui.keymap import ACTIONS
from console.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.app import App

    from console.tui.engine_api import ConsoleEngine
    from contracts.config import Config
    from contracts.enums import Mode

ACTIONS_WHILE_STARTING = frozenset({"quit", "quit_anywhere"})
"""The console's own actions that work before the engine is up; every other one of its keys
says ENGINE_STARTING and does nothing (nothing may act on an engine that is still being built)."""
CONSOLE_ACTIONS = frozenset(spec.action for spec in ACTIONS) | {"kill_anywhere"}
LABELS = {spec.action: spec.label for spec in ACTIONS} | {"kill_anywhere": "KILL"}


@dataclass(frozen=True)
class OpenedEngine:
    """What an `EngineOpener` built: the engine, the live account the trader must type
    before it starts (None outside live mode), and the validated config the engine runs
    with (None: the one the app was built with)."""

    engine: ConsoleEngine
    live_account_check: str | None = None
    config: Config | None = None


EngineOpener = Callable[[], Awaitable[OpenedEngine]]
"""Builds the engine (imports, venue, broker, store) once the console's first frame is painted;
any exception it raises ends the console with that exception as `DeskgateApp.start_error`."""


class StartingScreen(Screen[None]):
    """The first frame: the status bar (mode badge, "connecting…") while the engine is built.

    It is painted before the config is validated: `mode` is the one the config file names
    (`console.cli.options.configured_mode`) until `show_mode` gives the validated one."""

    def __init__(self, mode: Mode) -> None:
        super().__init__(id="starting")
        self.mode = mode

    def compose(self) -> ComposeResult:
        # this bar shows no engine data, so no data age is ever judged stale on it
        yield StatusBar(stale_threshold_s=math.inf, mode=self.mode, id="status")
        yield Static(f" {ENGINE_STARTING}", id="starting-message")

    def show_mode(self, mode: Mode) -> None:
        """The validated config's mode on the badge."""
        self.mode = mode
        self.query_one(StatusBar).show_mode(mode)


def refused_while_starting(app: App[Any], action: str | ActionParseResult) -> bool:
    """For a console action that needs the engine: ring, say ENGINE_STARTING in one line, True.
    Any other action (quit, Textual's own) runs: False."""
    name = parse(action)[1] if isinstance(action, str) else action[1]
    if name not in CONSOLE_ACTIONS or name in ACTIONS_WHILE_STARTING:
        return False
    app.bell()
    message = f"{ENGINE_STARTING} {LABELS[name]} works once the engine is up: press it again then"
    app.notify(message, severity="warning", timeout=4, markup=False)
    return True
