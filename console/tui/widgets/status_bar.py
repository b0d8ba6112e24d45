"""The one-line status bar: mode, trading state, connection, account, data health, clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from console.tui import format as fmt
from console.tui.first_frame import CONNECTING, MODE_LABEL
from console.tui.state import orders_at_broker
from console.tui.text import drawn, printable, shown
from console.tui.widgets.text_line import TextLine
from contracts.enums import Mode, TradingState
from engine.trading_hours import SessionState, Venue, VenueSession

if TYPE_CHECKING:  # the start-up screen shows this bar before the engine's models load
    from engine.view import EngineSnapshot

MODE_BADGE = {
    Mode.SIM: (MODE_LABEL[Mode.SIM], "bold black on #5fafff"),
    Mode.PAPER: (MODE_LABEL[Mode.PAPER], "bold black on #ffaf00"),
    Mode.LIVE: (MODE_LABEL[Mode.LIVE], "bold white on #d70000"),
}
STATE_BADGE = {
    TradingState.ACTIVE: (" ACTIVE ", "bold black on #5fd75f"),
    TradingState.REDUCING: (" REDUCING ", "bold black on #ffd700"),
    TradingState.HALTED: (" ■ HALTED ", "bold white on #d70000"),
}
DRIFT_STYLE = "bold white on #d70000"
VENUE_LABEL = {Venue.CME_EQUITY: "Globex", Venue.NYSE: "NYSE"}
SESSION_STYLE = {
    SessionState.OPEN: "green",
    SessionState.CLOSED: "bold #ff5f5f",
    SessionState.MAINTENANCE: "bold #ffaf00",
}
DOWN_REASON_CHARS = 48
"""The broker-down reason's head, kept on the bar at every width (the alert has it whole)."""


@dataclass(frozen=True)
class _Part:
    text: Text
    priority: int
    """0 is never dropped; higher numbers drop first when the bar is too narrow."""


class StatusBar(TextLine):
    """Renders the engine's health in one line; drops low-priority parts on narrow screens."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1; width: 1fr; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(
        self, *, stale_threshold_s: float, mode: Mode = Mode.SIM, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.stale_threshold_s = stale_threshold_s
        self.snapshot: EngineSnapshot | None = None
        self.now: datetime | None = None
        self.phase = CONNECTING
        """What the engine is doing before the first snapshot (connecting, failed...)."""
        self.mode: Mode = mode
        """The configured mode until the engine's first snapshot (never a guessed SIM behind
        the live-account dialog)."""
        self._drawn: object = None
        """What the bar shows (`drawn`): a new snapshot that reads the same is not redrawn."""

    def show_mode(self, mode: Mode) -> None:
        """The configured mode, before any snapshot (the start-up's validated config)."""
        if mode is not self.mode:
            self.mode, self._drawn = mode, None
            self.refresh()

    def show(self, snapshot: EngineSnapshot | None, now: datetime, phase: str, mode: Mode) -> None:
        mode = snapshot.mode if snapshot is not None else mode
        if (snapshot, now, phase, mode) == (self.snapshot, self.now, self.phase, self.mode):
            return
        self.snapshot, self.now, self.phase, self.mode = snapshot, now, phase, mode
        shows = drawn((p.text, p.priority) for p in self.parts())
        if shows != self._drawn:
            self._drawn = shows
            self.refresh()

    def parts(self) -> list[_Part]:
        snap = self.snapshot
        label, style = MODE_BADGE[shown_mode(self.mode, snap)]
        parts = [_Part(Text(label, style=style), 0)]
        if snap is None:
            phase = printable(self.phase or CONNECTING)
            parts.append(_Part(Text(f" {phase} ", style="bold yellow"), 0))
        else:
            parts.extend(self._engine_parts(snap))
        if self.now is not None:
            parts.append(_Part(Text(fmt.clock_text(self.now), style="bold"), 3))
            parts.append(_Part(Text(fmt.exchange_time(self.now), style="bold #87afd7"), 4))
        return parts

    def _engine_parts(self, snap: EngineSnapshot) -> list[_Part]:
        parts: list[_Part] = []
        label, style = STATE_BADGE[snap.trading_state]
        state = Text(label, style=style)
        if snap.trading_state is TradingState.HALTED and snap.kill_confirmed is not None:
            state.append(
                " broker-confirmed " if snap.kill_confirmed else " cancels UNCONFIRMED ",
                style="bold white on #5f0000" if not snap.kill_confirmed else "white on #5f0000",
            )
        parts.append(_Part(state, 0))
        if snap.drifts:
            parts.append(_Part(Text(f" {len(snap.drifts)} DRIFT ", style=DRIFT_STYLE), 0))
        conn = snap.connection
        if conn.connected:
            parts.append(_Part(Text(f"● {printable(conn.broker)}", style="bold green"), 1))
        else:
            parts.append(_Part(Text(" ✖ DISCONNECTED ", style="bold white on #d70000"), 0))
            if conn.down_reason:
                reason = fmt.broker_reason(conn.down_reason).split(" - ", 1)[0]
                parts.append(_Part(shown(reason[:DOWN_REASON_CHARS], style="bold #ff5f5f"), 0))
        if self.phase:
            parts.append(_Part(shown(self.phase, style="bold yellow"), 1))
        if conn.account_id:
            parts.append(_Part(shown(conn.account_id, style="bold"), 2))
        down = sorted(name for name, ok in conn.farms.items() if not ok)
        if down:
            parts.append(_Part(Text(f"farm {printable(','.join(down))} DOWN", style="bold red"), 1))
        elif conn.farms:
            parts.append(_Part(Text("farms ok", style="green"), 5))
        parts.append(_Part(self._freshness(snap), 2))
        parts.extend(_Part(session_text(s), 1 if not s.open else 3) for s in snap.market_sessions)
        if snap.pending:
            parts.append(_Part(Text(f"{len(snap.pending)} pending", style="bold #ffaf00"), 1))
        working = orders_at_broker(snap)
        if working:
            parts.append(_Part(Text(f"{working} working", style="bold"), 3))
        parts.append(
            _Part(
                Text(
                    f"day {fmt.money(snap.realized_pnl_today, signed=True)}"
                    f" · {snap.trades_today} tr · {snap.consecutive_losses} L",
                    style="red" if snap.realized_pnl_today < 0 else "",
                ),
                4,
            )
        )
        return parts

    def _freshness(self, snap: EngineSnapshot) -> Text:
        last = snap.connection.last_quote_at
        if last is None or self.now is None:
            return Text("no data", style="bold yellow")
        seconds = fmt.since(self.now, last) or 0.0
        stale = seconds > self.stale_threshold_s
        return Text(f"data {fmt.age(seconds)}", style="bold white on #d70000" if stale else "green")

    def line(self) -> Text:
        parts = self.parts()
        width = max(1, self.size.width)
        while len(parts) > 1 and _width(parts) > width:
            worst = max(range(len(parts)), key=lambda i: (parts[i].priority, i))
            if parts[worst].priority == 0:
                break
            parts.pop(worst)
        line = Text(no_wrap=True, overflow="ellipsis")
        for index, part in enumerate(parts):
            if index:
                line.append(" ")
            line.append_text(part.text)
        return line


def session_text(session: VenueSession) -> Text:
    """`Globex open`, `NYSE closed`, `Globex maintenance`, `Globex reset window`."""
    label = VENUE_LABEL.get(session.venue, str(session.venue))
    state = session.state.value.lower()
    if session.state is SessionState.MAINTENANCE and "reset" in session.reason:
        state = "reset window"
    return Text(f"{label} {state}", style=SESSION_STYLE[session.state])


def shown_mode(mode: Mode, snap: EngineSnapshot | None) -> Mode:
    """The badge's mode: the configured one, except that a real broker is never shown as SIM
    (an IB paper account is PAPER, any other IB account LIVE)."""
    if mode is not Mode.SIM or snap is None or snap.connection.broker == "sim":
        return mode
    if snap.connection.account_id and not snap.connection.is_paper:
        return Mode.LIVE
    return Mode.PAPER


def _width(parts: list[_Part]) -> int:
    return sum(p.text.cell_len for p in parts) + max(0, len(parts) - 1)
