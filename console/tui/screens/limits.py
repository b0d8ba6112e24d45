"""The risk limits screen (L): every limit in force, changed on the running engine."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from console.tui.engine_api import ConsoleEngine
from console.tui.keymap import KILL_CHORD
from console.tui.text import printable
from console.tui.widgets.ordered_input import OrderedInput
from engine.limits import SETTABLE, TIGHTER_WHEN_HIGHER, LimitError, plan_limit_change

ACTOR = "console"
HINT = (
    f"up/down + enter = pick · enter = apply · escape = close · {KILL_CHORD} = KILL switch\n"
    "tightening applies at once; loosening needs a typed reason"
)


class LimitsScreen(ModalScreen[None]):
    """Pick a limit, type its new value; the engine's `set_limit` decides, and says so."""

    DEFAULT_CSS = """
    LimitsScreen { align: center middle; }
    LimitsScreen #limits { width: 90; height: auto; max-height: 100%; border: thick $accent;
        padding: 0 1; background: $surface; }
    LimitsScreen #limits-title { text-style: bold; }
    LimitsScreen #limits-table { height: auto; max-height: 50vh; }
    LimitsScreen Input { height: 1; border: none; padding: 0 1; margin: 0 0 0 2;
        background: $boost; }
    LimitsScreen Input:focus { border: none; background: $primary 40%; }
    LimitsScreen #limits-error { color: $error; }
    LimitsScreen #limits-hint { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, engine: ConsoleEngine) -> None:
        super().__init__()
        self.engine = engine
        self.key: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="limits"):
            yield Static("Risk limits", id="limits-title")
            table: DataTable[str | Text] = DataTable(id="limits-table", cursor_type="row")
            yield table
            yield Static("Pick a limit to change it.", id="limits-prompt", markup=False)
            yield OrderedInput(placeholder="new value", id="limit-value")
            yield OrderedInput(placeholder="reason (needed to loosen)", id="limit-reason")
            yield Static("", id="limits-error", markup=False)
            yield Static("", id="limits-result")
            yield Static(HINT, id="limits-hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("limit", "in force", "tighter when")
        self._fill()
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        risk = self.engine.config.risk
        for key in SETTABLE:
            higher = "higher" if key in TIGHTER_WHEN_HIGHER else "lower"
            table.add_row(key, Text(str(getattr(risk, key)), style="bold"), higher, key=key)
        table.move_cursor(row=row)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(DataTable.RowSelected, "#limits-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.key = str(event.row_key.value)
        now = getattr(self.engine.config.risk, self.key)
        self.query_one("#limits-prompt", Static).update(f"New value for {self.key} (now {now}):")
        self._error("")
        for box in self.query(Input):
            box.value = ""
        self.query_one("#limit-value", Input).focus()

    @on(Input.Submitted, "#limit-value")
    @on(Input.Submitted, "#limit-reason")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.key is None:
            self._error("Pick a limit first (up/down, enter).")
            self.query_one(DataTable).focus()
            return
        value = self.query_one("#limit-value", Input).value.strip()
        reason = self.query_one("#limit-reason", Input).value.strip()
        try:  # tighten or loosen? (a stand-in reason: the engine's call below decides)
            change = plan_limit_change(self.engine.config.risk, self.key, value, reason or "?")
        except LimitError as exc:
            self._error(str(exc))
            self.query_one("#limit-value", Input).focus()
            return
        if not change.tightens and not reason:
            self._error(f"Loosening {change.key} from {change.old} to {change.new} needs a reason.")
            self.query_one("#limit-reason", Input).focus()
            return
        self._apply(value, reason)

    def _apply(self, value: str, reason: str) -> None:
        assert self.key is not None
        result = self.engine.set_limit(self.key, value, reason, ACTOR)
        self._error("")
        self.query_one("#limits-result", Static).update(
            Text.assemble(
                (" changed " if result.ok else " refused ", _style(result.ok)),
                " ",
                printable(result.message),
            )
        )
        if result.ok:
            self._fill()
            for box in self.query(Input):
                box.value = ""
            self.key = None
            self.query_one("#limits-prompt", Static).update("Pick a limit to change it.")
            self.query_one(DataTable).focus()

    def _error(self, message: str) -> None:
        self.query_one("#limits-error", Static).update(printable(message))


def _style(ok: bool) -> str:
    return "bold black on #5fd75f" if ok else "bold white on #d70000"
