"""Pending trades that ended unsent (expired, voided by a kill, rejected, denied), with why."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.tui import format as fmt
from console.tui.text import printable
from engine.book import PendingOutcome

OUTCOME_STYLE = {
    "EXPIRED": "dim",
    "VOIDED": "bold #ffaf00",
    "REJECTED": "bold",
    "DENIED": "bold red",
}
SHOWN_OUTCOMES = 20
"""The newest outcomes kept on screen."""


class PendingHistory(Static):
    """Newest first: when, outcome, the trade, and the engine's reason in full (wrapped,
    never cut off)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.history: tuple[PendingOutcome, ...] = ()

    def show(self, history: tuple[PendingOutcome, ...]) -> None:
        if history == self.history:
            return
        self.history = history
        self.update(history_text(history))


def history_text(history: tuple[PendingOutcome, ...]) -> Text:
    text = Text("Ended unsent (newest first)\n", style="bold")
    for h in reversed(history[-SHOWN_OUTCOMES:]):
        text.append(h.at.strftime("%H:%M:%S "), style="dim")
        text.append(f" {h.outcome} ", style=OUTCOME_STYLE.get(h.outcome, "bold"))
        text.append(f" {h.side.value} {fmt.qty(h.quantity)} {printable(h.symbol)}", style="bold")
        text.append(f" - {printable(h.reason)}\n")
    text.rstrip()
    return text
