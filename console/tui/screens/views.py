"""Full-screen views: go-live gates, the audit log, and help with every binding."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from console.tui.state import ConsoleState
from console.tui.widgets.gates import GatesPanel, gates_from, tier_label
from console.tui.widgets.status_bar import StatusBar
from console.tui.widgets.tables import AuditTable


def watch_state(screen: Screen[Any], show: Callable[[ConsoleState], None]) -> None:
    """Call `show` with the app's `console_state` now and whenever it changes."""

    def changed(state: ConsoleState | None) -> None:
        if state is not None:
            with contextlib.suppress(NoMatches):  # children can mount a moment after the screen
                show(state)

    screen.watch(screen.app, "console_state", changed, init=True)


class StateScreen(Screen[None]):
    """A full-screen view with the status bar on top; fed `ConsoleState` by the app."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back")]

    def __init__(self, *, stale_threshold_s: float) -> None:
        super().__init__()
        self.stale_threshold_s = stale_threshold_s

    def on_mount(self) -> None:
        watch_state(self, self.show_state)

    def action_close(self) -> None:
        self.dismiss(None)

    def compose_status(self) -> ComposeResult:
        yield StatusBar(stale_threshold_s=self.stale_threshold_s, id="status")

    def show_state(self, state: ConsoleState) -> None:
        self.query_one(StatusBar).show(state.snapshot, state.now, state.phase, state.mode)


class GatesScreen(StateScreen):
    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with VerticalScroll(id="gates-view", classes="view"):
            yield GatesPanel(notes=True, id="gates-full")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#gates-view").border_title = "Go-live gates"

    def show_state(self, state: ConsoleState) -> None:
        super().show_state(state)
        self.query_one(GatesPanel).show(gates_from(state.snapshot), tier_label(state.snapshot))


class AuditScreen(StateScreen):
    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield AuditTable(id="audit-full")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(AuditTable)
        table.border_title = "Audit log (newest first)"
        table.focus()

    def show_state(self, state: ConsoleState) -> None:
        super().show_state(state)
        if state.snapshot is not None:
            self.query_one(AuditTable).show(state.snapshot.audit_tail)


class HelpScreen(ModalScreen[None]):
    """Every binding, with the keys as configured."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]], extra: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows
        self.extra = extra

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold #ffaf00", no_wrap=True, justify="right")
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, label, text in self.rows:
            table.add_row(key, label, text)
        table.add_row("", "", "")
        for key, text in self.extra:
            table.add_row(key, "", Text(text, style="dim"))
        with VerticalScroll(id="help-dialog"):
            yield Static(table)
            yield Static(Text("Keys are remappable in config: [console.keys]", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "deskgate keys"

    def action_close(self) -> None:
        self.dismiss(None)
