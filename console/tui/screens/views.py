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

from console.tui.engine_api import ConsoleEngine
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


class AuditPageTable(AuditTable):
    """The audit screen's table: PgUp/PgDn, Home/End page through the whole store."""

    def __init__(self, pager: AuditScreen, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pager = pager

    def action_page_down(self) -> None:
        self.pager.turn("older")

    def action_page_up(self) -> None:
        self.pager.turn("newer")

    def action_scroll_home(self) -> None:
        self.pager.turn("newest")

    def action_scroll_end(self) -> None:
        self.pager.turn("oldest")


class AuditScreen(StateScreen):
    """The audit log, a page at a time, newest first. On the newest page it follows new beads;
    PgDn/PgUp turn to older/newer pages, End to the first bead, Home back to the newest. Only
    the page shown is read from the store."""

    PAGE_MIN = 10

    def __init__(self, *, stale_threshold_s: float) -> None:
        super().__init__(stale_threshold_s=stale_threshold_s)
        self.top_seq: int | None = None
        """The newest seq on the page shown; None: follow the newest bead."""
        self.head_seq = 0
        self.shown_head: int | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield AuditPageTable(self, id="audit-full")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(AuditTable).focus()

    @property
    def page_size(self) -> int:
        # the rows that fit: less the status bar, the table's border and header, the footer
        return max(self.PAGE_MIN, self.app.size.height - 5)

    def turn(self, where: str) -> None:
        """Show another page: older, newer, oldest or newest."""
        size = self.page_size
        top = self.head_seq if self.top_seq is None else self.top_seq
        if where == "older":
            top = max(min(size, self.head_seq), top - size)
        elif where == "newer":
            top = top + size
        elif where == "oldest":
            top = min(size, self.head_seq)
        else:
            top = self.head_seq
        self.top_seq = None if top >= self.head_seq else top
        self._load()
        table = self.query_one(AuditTable)
        table.move_cursor(row=0, animate=False)
        table.scroll_home(animate=False)

    def _load(self) -> None:
        engine: ConsoleEngine | None = getattr(self.app, "engine", None)
        if engine is None:
            return
        self.head_seq, beads = engine.audit_page(self.top_seq, self.page_size)
        self.shown_head = self.head_seq
        self.query_one(AuditTable).show(tuple(reversed(beads)))
        first = beads[-1].seq if beads else 0
        last = beads[0].seq if beads else 0
        where = "newest, following" if self.top_seq is None else "PgUp newer, Home newest"
        self.query_one(AuditTable).border_title = (
            f"Audit log: beads {first:,}-{last:,} of {self.head_seq:,} ({where}; PgDn older, "
            "End oldest)"
        )

    def show_state(self, state: ConsoleState) -> None:
        super().show_state(state)
        if state.snapshot is None:
            return
        tail = state.snapshot.audit_tail
        head = tail[-1].seq if tail else 0
        if self.shown_head is None or (self.top_seq is None and head != self.shown_head):
            self._load()


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
