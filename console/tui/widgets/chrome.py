"""Screen chrome: the panel tab bar, the one-line message / alert bar and the key footer."""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from console.tui.text import printable
from console.tui.widgets.tables import LEVEL_STYLE, alert_text
from console.tui.widgets.text_line import TextLine
from contracts.enums import AlertLevel
from contracts.events import AlertRaised


class PanelTabs(TextLine):
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

    def line(self) -> Text:
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


class MessageLine(TextLine):
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

    def line(self) -> Text:
        return self.text


KeySpec = tuple[str, str, str, str]
"""What a footer key shows apart from being enabled: key, key display, description, action."""

DIM_AFTER_S = 0.1
"""A key that becomes unavailable is dimmed this long after, if it still is: an approve in
flight for a few milliseconds never dims it (the dim and the light-up after were two style
updates and a footer repaint in the frame that draws the approved order's row). A key that
becomes available is lit at once. Pressing a key while it is unavailable is refused whatever
the footer shows."""


class KeysFooter(Footer):
    """Textual's footer, except that when only which keys are enabled changed (approve greys
    out while an approval is in flight), the keys are dimmed or lit in place (Footer rebuilds
    all its keys on every bindings change, a full re-layout in the middle of an approve), and
    a key is dimmed only once it has stayed unavailable for `DIM_AFTER_S`."""

    recomposes = 0
    """Times the keys were rebuilt (diagnostics: an enable/disable change rebuilds nothing)."""

    _dim_timer: Timer | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._update_keys)

    def _wanted(self) -> tuple[list[tuple[KeySpec, bool, str]], bool]:
        """The shown bindings as the footer lays them out (one key per action, in order), and
        whether any is in a binding group (drawn differently: then the keys are rebuilt)."""
        wanted: dict[str, tuple[KeySpec, bool, str]] = {}
        grouped = False
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in wanted:
                grouped = grouped or binding.group is not None
                display = self.app.get_key_display(binding)
                spec = (binding.key, display, binding.description, binding.action)
                wanted[binding.action] = (spec, enabled, tooltip)
        return list(wanted.values()), grouped

    def _keys_in_place(self) -> tuple[list[FooterKey], list[tuple[KeySpec, bool, str]]] | None:
        """The footer's keys and the bindings they show, when the keys are the ones shown (so
        they can be lit or dimmed in place); None when they must be rebuilt."""
        wanted, grouped = self._wanted()
        keys = list(self.query_children(FooterKey))
        shown = [(k.key, k.key_display, k.description, k.action) for k in keys]
        same_keys = shown == [spec for spec, _, _ in wanted] and len(keys) == len(self.children)
        return None if grouped or not same_keys else (keys, wanted)

    async def _update_keys(self) -> None:
        in_place = self._keys_in_place()
        if in_place is None:
            self.recomposes += 1
            await self.recompose()
            return
        keys, wanted = in_place
        to_dim = False
        for key, (_, enabled, tooltip) in zip(keys, wanted, strict=True):
            if enabled and key._disabled:
                key._disabled = False
                key.set_class(False, "-disabled")
            to_dim = to_dim or (not enabled and not key._disabled)
            key.tooltip = tooltip or None
        if to_dim and self._dim_timer is None:
            self._dim_timer = self.set_timer(DIM_AFTER_S, self._dim_unavailable)

    def _dim_unavailable(self) -> None:
        """Dim the keys still unavailable `DIM_AFTER_S` after they became so."""
        self._dim_timer = None
        in_place = self._keys_in_place()
        if in_place is None:
            return  # the keys changed since: their rebuild shows each key as it is
        keys, wanted = in_place
        for key, (_, enabled, _) in zip(keys, wanted, strict=True):
            if not enabled and not key._disabled:
                key._disabled = True
                key.set_class(True, "-disabled")
