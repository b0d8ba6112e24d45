"""The strategies panel: each bot strategy's mode, throttle, quarantine, last decision, DVS/EQS."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.tui.text import printable
from engine.strategy.manager import StrategyPanelView, StrategyStatus

PanelSource = Callable[[], StrategyPanelView | None]
"""Where the panel reads its view (the engine's `strategy_panel`); None when no bot runs."""
REFRESH_S = 1.0
"""How often the panel reads the bot's state (decisions come once a minute, per bar)."""
COLUMNS = ("Strategy", "Mode", "Throttle", "State", "DVS", "EQS", "Last decision")
FIXED_WIDTH = 8 + 7 + 8 + 11 + 4 + 4 + 2 * len(COLUMNS) + 2
"""The other columns at their widest (K5, OBSERVE, +50% EUC, QUARANTINED, 0.00), each cell's
padding and a scrollbar's width: the last decision gets the rest, cut with an ellipsis (the
journal below has it in full), so the table never scrolls sideways."""
MODE_STYLE = {"LIVE": "bold green", "SHADOW": "bold #ffaf00", "OBSERVE": "dim"}


def mode_cell(row: StrategyStatus) -> Text:
    return Text(row.mode, style=MODE_STYLE.get(row.mode, "bold"))


def throttle_cell(row: StrategyStatus) -> Text:
    """`+35% EUC` when the learning loop adds friction, `none` otherwise."""
    if row.friction <= 0:
        return Text("none", style="dim")
    return Text(f"+{row.friction:.0%} EUC", style="bold #ffaf00")


def state_cell(row: StrategyStatus) -> Text:
    if row.quarantined:
        return Text("QUARANTINED", style="bold white on #d70000")
    return Text("enabled", style="green")


def score_cell(value: float, floor: float = 0.6) -> Text:
    """A quality score, red below `floor` (the entry gates' default)."""
    return Text(f"{value:.2f}", style="bold red" if value < floor else "")


def row_cells(row: StrategyStatus, last_width: int) -> tuple[Text, ...]:
    last = Text(printable(row.last_decision) or "-")
    last.truncate(max(1, last_width), overflow="ellipsis")
    return (
        Text(printable(row.name), style="bold"),
        mode_cell(row),
        throttle_cell(row),
        state_cell(row),
        score_cell(row.dvs),
        score_cell(row.eqs, 0.5),
        last,
    )


def journal_text(view: StrategyPanelView) -> Text:
    text = Text("Journal (newest first)\n", style="bold")
    if view.halted:
        text.append(f"no entries: {printable(view.halted)}\n", style="bold red")
    if not view.journal:
        text.append("no decisions yet - the bot decides at each 1-minute bar close", style="dim")
    for line in view.journal:
        _day, _, rest = line.partition(" ")
        clock, _, rest = rest.partition(" ")
        text.append(f"{clock} ", style="dim")
        text.append(f"{printable(rest)}\n")
    text.rstrip()
    return text


class StrategiesPanel(Vertical):
    """The bot's strategies (a table) over the decision journal's newest lines; it reads its
    view from `source` when shown and every `REFRESH_S` seconds."""

    DEFAULT_CSS = """
    StrategiesPanel { height: 1fr; }
    StrategiesPanel > DataTable { height: auto; max-height: 8; }
    StrategiesPanel > #strategies-none { color: $text-muted; padding: 0 1; }
    StrategiesPanel > #strategies-journal { height: 1fr; padding: 0 1; margin-top: 1; }
    """

    def __init__(self, source: PanelSource, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self.view: StrategyPanelView | None = None
        self._drawn_width = -1

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(
            id="strategies-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*COLUMNS)
        yield table
        yield Static(
            "No strategies running: start the console with --strategies K1,...,K5 --symbols MES",
            id="strategies-none",
        )
        yield Static(id="strategies-journal", markup=False)

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(REFRESH_S, self.refresh_view)

    def refresh_view(self) -> None:
        self.show(self.source())

    def on_resize(self) -> None:
        self._drawn_width = -1
        self.show(self.view)

    def show(self, view: StrategyPanelView | None) -> None:
        width = max(12, self.size.width - FIXED_WIDTH)
        if view == self.view and view is not None and width == self._drawn_width:
            return
        self.view = view
        self._drawn_width = width
        running = view is not None
        self.query_one("#strategies-none").display = not running
        table = self.query_one(DataTable)
        table.display = running
        journal = self.query_one("#strategies-journal", Static)
        journal.display = running
        if view is None:
            return
        table.clear()
        for row in view.rows:
            table.add_row(*row_cells(row, width), key=row.name)
        journal.update(journal_text(view))
