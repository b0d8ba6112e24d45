"""The drift screen: every unresolved drift, engine side vs broker side, and how to resolve it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from console.tui.messages import DriftResolveWanted
from console.tui.screens.views import StateScreen
from console.tui.state import ConsoleState
from console.tui.text import printable, shown
from console.tui.widgets.drift import RESOLUTIONS, TYPE_LABEL, DriftTable, severity_text, side_text
from contracts.enums import DriftResolution
from contracts.events import DriftDetected


class DriftScreen(StateScreen):
    """Pick a drift (up/down), then a resolution key; the app asks for the note and resolves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, f"resolve('{resolution.value}')", label)
        for key, resolution, label, _ in RESOLUTIONS
    ]

    def __init__(self, *, stale_threshold_s: float) -> None:
        super().__init__(stale_threshold_s=stale_threshold_s)
        self.count = -1

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Vertical(id="drift-view", classes="view"):
            yield Static(
                Text.assemble(
                    ("No unresolved drift.", "bold green"),
                    (" Reconciliation raises one whenever engine and broker disagree.", "dim"),
                ),
                id="drift-empty",
            )
            yield DriftTable(id="drift-table")
            yield Static("", id="drift-detail")
            yield Static(_guide(), id="drift-guide")
            yield Static("", id="drift-result")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DriftTable).focus()
        self.watch(self.app, "drift_result", self._result_changed, init=False)

    def _result_changed(self, result: tuple[bool, str] | None) -> None:
        if result is not None:
            self.show_result(*result)

    @property
    def selected(self) -> DriftDetected | None:
        return self.query_one(DriftTable).selected

    def show_state(self, state: ConsoleState) -> None:
        super().show_state(state)
        drifts = state.snapshot.drifts if state.snapshot is not None else ()
        table = self.query_one(DriftTable)
        table.show(drifts, state.now)
        table.display = bool(drifts)
        self.query_one("#drift-empty").display = not drifts
        self.query_one("#drift-guide").display = bool(drifts)
        if len(drifts) != self.count:
            self.count = len(drifts)
            view = self.query_one("#drift-view")
            view.border_title = (
                f"Unresolved drift ({len(drifts)}) - trading REDUCING: no new risk until resolved"
                if drifts
                else "Unresolved drift"
            )
            self.refresh_bindings()
        self._show_detail()

    def show_result(self, ok: bool, message: str) -> None:
        """The outcome of the last resolution (the engine's words)."""
        self.query_one("#drift-result", Static).update(
            Text.assemble(
                (" resolved " if ok else " not resolved ", _result_style(ok)),
                " ",
                printable(message),
            )
        )

    def _show_detail(self) -> None:
        drift = self.selected
        detail = self.query_one("#drift-detail", Static)
        detail.display = drift is not None
        if drift is None:
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, justify="right")
        grid.add_column()
        heading = Text()
        heading.append_text(severity_text(drift.severity))
        heading.append(f" {TYPE_LABEL.get(drift.drift_type, '')} ", style="bold")
        heading.append(printable(drift.subject), style="bold #5fafff")
        grid.add_row("drift", heading)
        grid.add_row("engine", Text(side_text(drift.engine_state)))
        grid.add_row("broker", Text(side_text(drift.broker_state), style="bold"))
        grid.add_row(
            "detected",
            shown(f"{drift.ts_event.strftime('%H:%M:%S %Z')}  id {drift.drift_id}", style="dim"),
        )
        detail.update(grid)

    @on(DataTable.RowHighlighted, "#drift-table")
    def _moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resolve":
            if self.app.screen is not self:
                return False  # a dialog is on top: the keys go to it
            return True if self.selected is not None else None
        return True

    def action_resolve(self, resolution: str) -> None:
        drift = self.selected
        if drift is None:
            self.app.bell()
            return
        self.post_message(DriftResolveWanted(drift, DriftResolution(resolution)))


def _guide() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold #ffaf00", no_wrap=True, justify="right")
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, resolution, _, meaning in RESOLUTIONS:
        grid.add_row(key, resolution.value, meaning)
    grid.add_row("", "", Text("each needs a typed note (audit log) · escape = back", style="dim"))
    return grid


def _result_style(ok: bool) -> str:
    return "bold black on #5fd75f" if ok else "bold white on #d70000"
