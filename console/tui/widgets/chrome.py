"""Screen chrome: the panel tab bar and the one-line message / alert bar."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from console.tui.text import printable
from console.tui.widgets.tables import LEVEL_STYLE, alert_text
from contracts.enums import AlertLevel
from contracts.events import AlertRaised


class PanelTabs(Widget):
    """`1 Approvals  2 Positions ...` with the active panel highlighted and badges for counts."""

    DEFAULT_CSS = """
    PanelTabs { height: 1; width: 1fr; background: $boost; }
    """

    def __init__(self, labels: list[str], short: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels = labels
        self.short = short
        self.active = 0
        self.shown: list[int] = list(range(len(labels)))
        self.badges: dict[int, tuple[str, str]] = {}

    def show(self, active: int, visible: list[int], badges: dict[int, tuple[str, str]]) -> None:
        if (active, visible, badges) == (self.active, self.shown, self.badges):
            return
        self.active, self.shown, self.badges = active, visible, badges
        self.refresh()

    def render(self) -> RenderResult:
        line = self._line(self.labels)
        if line.cell_len > self.size.width:
            line = self._line(self.short)
        return line

    def _line(self, labels: list[str]) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for position, index in enumerate(self.shown):
            if position:
                line.append("│", style="dim")
            active = index == self.active
            line.append(f" {index + 1} {labels[index]}", style="bold reverse" if active else "")
            badge = self.badges.get(index)
            if badge:
                line.append(" ", style="reverse" if active else "")
                line.append(badge[0], style=badge[1])
            line.append(" ", style="reverse" if active else "")
        return line


class MessageLine(Widget):
    """The latest alert or command result, in one line, coloured by severity."""

    DEFAULT_CSS = """
    MessageLine { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text("deskgate ready", style="dim")
        self._last_alert_id: str | None = None

    def show_alert(self, alert: AlertRaised | None) -> None:
        """Show the newest alert if it is new since the last call."""
        if alert is None or alert.event_id == self._last_alert_id:
            return
        self._last_alert_id = alert.event_id
        text = alert_text(alert)
        if alert.level is AlertLevel.CRITICAL:
            text.stylize(LEVEL_STYLE[alert.level], 0, 9)
        self.text = text
        self.refresh()

    def show_result(self, command: str, ok: bool, message: str) -> None:
        self.text = Text.assemble(
            (f" {command} ", "bold black on #5fd75f" if ok else "bold white on #d70000"),
            " ",
            printable(message),
        )
        self.refresh()

    def render(self) -> RenderResult:
        return self.text
