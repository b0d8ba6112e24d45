"""The floor under deskgate's start-up: the least a Textual app does to paint a first frame."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static


class FloorScreen(Screen[None]):
    """One line, shaped like deskgate's status bar so the benchmark sees the same marker."""

    def compose(self) -> ComposeResult:
        yield Static(" SIM  connecting… ")


class FloorApp(App[None]):
    """One Static in one Screen; `q` quits (as the benchmark ends every run)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def get_default_screen(self) -> Screen[None]:
        return FloorScreen()


if __name__ == "__main__":
    FloorApp().run()
