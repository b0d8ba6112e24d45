"""Pending trades that ended unsent (expired, voided by a kill, rejected, denied), with why."""

from __future__ import annotations

from rich.text import Text

from console.tui import format as fmt
from console.tui.text import shown
from console.tui.widgets.tables import Cell, SnapshotTable
from engine.book import PendingOutcome

OUTCOME_STYLE = {
    "EXPIRED": "dim",
    "VOIDED": "bold #ffaf00",
    "REJECTED": "bold",
    "DENIED": "bold red",
}
SHOWN_OUTCOMES = 50
"""The newest outcomes kept on screen."""


class PendingHistoryTable(SnapshotTable):
    """Newest first: when, outcome, the trade, and the engine's reason in full."""

    COLUMNS = (
        ("Time", "time"),
        ("Outcome", "outcome"),
        ("Trade", "trade"),
        ("Reason", "reason"),
    )

    def show(self, history: tuple[PendingOutcome, ...]) -> None:
        rows: list[tuple[str, tuple[Cell, ...]]] = []
        for index, h in enumerate(reversed(history[-SHOWN_OUTCOMES:])):
            trade = shown(f"{h.side.value} {fmt.qty(h.quantity)} {h.symbol}", style="bold")
            rows.append(
                (
                    f"{h.intent_id}:{h.outcome}:{index}",
                    (
                        Text(h.at.strftime("%H:%M:%S"), style="dim"),
                        Text(f" {h.outcome} ", style=OUTCOME_STYLE.get(h.outcome, "bold")),
                        trade,
                        shown(h.reason),
                    ),
                )
            )
        self.set_rows(rows)
