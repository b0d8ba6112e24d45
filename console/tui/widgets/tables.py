"""Positions, orders, alerts and audit tables: plain attributes in, rows out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from console.tui import format as fmt
from console.tui.text import printable, shown
from contracts.enums import AlertLevel, LifecycleState
from contracts.events import AlertRaised
from engine.view import BeadView, OrderView, PositionView

Cell = Text
"""Every cell is a `Text`: a plain str cell would be parsed as markup."""


class SnapshotTable(DataTable[Cell]):
    """A DataTable rebuilt from a tuple of rows. A cursor on the top row stays on top (the newest
    row); a cursor the trader moved down stays on the same key."""

    COLUMNS: tuple[tuple[str, str], ...] = ()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: list[tuple[str, tuple[Cell, ...]]] = []

    def on_mount(self) -> None:
        for label, key in self.COLUMNS:
            self.add_column(label, key=key)

    def set_rows(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
        rows = list(rows)
        if rows == self._rows:
            return
        if [key for key, _ in rows] == [key for key, _ in self._rows]:
            for row_index, ((_, new), (_, old)) in enumerate(zip(rows, self._rows, strict=True)):
                for column_index, (cell, before) in enumerate(zip(new, old, strict=True)):
                    if cell != before:
                        self.update_cell_at(Coordinate(row_index, column_index), cell)
            self._rows = rows
            return
        keep = None
        if self._rows and 0 < self.cursor_row < len(self._rows):
            keep = self._rows[self.cursor_row][0]  # the trader moved onto this row: follow it
        self._rows = rows
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if keep in keys:
            self.move_cursor(row=keys.index(keep), animate=False)
        elif rows:
            # On the top row the table follows the newest: new rows never scroll out of view.
            self.move_cursor(row=0, animate=False)
            self.scroll_home(animate=False)


def pnl(value: Decimal) -> Text:
    style = "green" if value > 0 else ("red" if value < 0 else "")
    return Text(fmt.money(value, signed=True), style=style, justify="right")


def right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


class PositionsTable(SnapshotTable):
    COLUMNS = (
        ("Symbol", "symbol"),
        ("Qty", "qty"),
        ("Avg", "avg"),
        ("Last", "last"),
        ("Unrl P&L", "unrl"),
        ("Rlzd P&L", "rlzd"),
        ("Fill", "fill"),
    )

    def show(self, positions: tuple[PositionView, ...]) -> None:
        self.set_rows(
            [
                (
                    p.symbol,
                    (
                        shown(p.symbol, style="bold"),
                        right(fmt.qty(p.quantity), "bold" if p.quantity else "dim"),
                        right(fmt.price(p.avg_price)),
                        right(fmt.price(p.last)),
                        pnl(p.unrealized_pnl),
                        pnl(p.realized_pnl),
                        right(fmt.pct(p.fill_ratio)),
                    ),
                )
                for p in positions
                if p.quantity  # flat rows leave the list (their P&L is in the account strip)
            ]
        )


STATE_STYLE = {
    LifecycleState.PROPOSED: "dim",
    LifecycleState.APPROVED: "bold #87afd7",
    LifecycleState.SUBMITTED: "bold #5fafff",
    LifecycleState.STALLED: "bold white on #d70000",
    LifecycleState.PENDING_CANCEL: "bold #d7af00",
    LifecycleState.FILLED: "bold green",
    LifecycleState.MANAGED: "bold #5fd7af",
    LifecycleState.CLOSED: "dim",
    LifecycleState.CANCELLED: "dim",
    LifecycleState.REJECTED: "bold red",
    LifecycleState.EXPIRED: "dim",
}


def order_sort_key(order: OrderView) -> tuple[int, float]:
    """STALLED first, then other live orders, then finished ones; newest first within."""
    rank = 0 if order.state is LifecycleState.STALLED else (2 if order.state.is_terminal else 1)
    return (rank, -order.state_since.timestamp())


MAX_FINISHED_ORDERS = 50
"""Finished orders kept on screen (newest first); the audit screen has the rest."""


class OrdersTable(SnapshotTable):
    """Live orders first (STALLED on top) with a ticking time in state; finished ones show
    when they finished, so a busy day does not re-render hundreds of rows every second."""

    COLUMNS = (
        ("State", "state"),
        ("In state", "since"),
        ("Symbol", "symbol"),
        ("Side", "side"),
        ("Type", "type"),
        ("Px", "px"),
        ("Filled", "filled"),
        ("Intent", "intent"),
    )

    def show(self, orders: tuple[OrderView, ...], now: datetime) -> None:
        ordered = sorted(orders, key=order_sort_key)
        live = [o for o in ordered if not o.state.is_terminal]
        finished = [o for o in ordered if o.state.is_terminal][:MAX_FINISHED_ORDERS]
        self.set_rows([self._row(o, now) for o in (*live, *finished)])

    @staticmethod
    def _row(o: OrderView, now: datetime) -> tuple[str, tuple[Cell, ...]]:
        state = Text(f" {o.state.value} ", style=STATE_STYLE[o.state])
        if o.unknown:
            state.append(" ?", style="bold #ffaf00")
        if o.state.is_terminal:
            since = right(o.state_since.strftime("%H:%M:%S"), "dim")
        else:
            seconds = fmt.since(now, o.state_since) or 0.0
            stalled = o.state is LifecycleState.STALLED
            since = right(fmt.age(seconds), "bold red" if stalled else "")
        return (
            o.intent_id,
            (
                state,
                since,
                shown(o.symbol, style="dim" if o.state.is_terminal else "bold"),
                Text(o.side.value, style="green" if o.side.value == "BUY" else "red"),
                Text(o.order_type.value),
                right(fmt.price(o.limit_price or o.stop_price or o.avg_fill_price)),
                right(f"{fmt.qty(o.filled)}/{fmt.qty(o.requested)} {fmt.pct(o.ratio)}"),
                shown(o.intent_id, style="dim"),
            ),
        )


LEVEL_STYLE = {
    AlertLevel.INFO: "#87afd7",
    AlertLevel.WARNING: "bold #ffaf00",
    AlertLevel.CRITICAL: "bold white on #d70000",
}


def code_style(code: str) -> str:
    return "bold #ffaf00" if "DRIFT" in code.upper() else "bold"


def alert_text(alert: AlertRaised, *, with_time: bool = True) -> Text:
    text = Text(no_wrap=False)
    if with_time:
        text.append(alert.ts_event.strftime("%H:%M:%S "), style="dim")
    text.append(f" {alert.level.value[:4]} ", style=LEVEL_STYLE[alert.level])
    text.append(f" {printable(alert.code)}", style=code_style(alert.code))
    text.append(f" {printable(alert.message)}")
    return text


class AlertsTable(SnapshotTable):
    COLUMNS = (("Time", "time"), ("Level", "level"), ("Code", "code"), ("Message", "message"))

    def show(self, alerts: tuple[AlertRaised, ...]) -> None:
        self.set_rows(
            [
                (
                    a.event_id,
                    (
                        Text(a.ts_event.strftime("%H:%M:%S"), style="dim"),
                        Text(f" {a.level.value} ", style=LEVEL_STYLE[a.level]),
                        shown(
                            a.code, style="bold #ffaf00" if "DRIFT" in a.code.upper() else "bold"
                        ),
                        shown(a.message),
                    ),
                )
                for a in reversed(alerts)
            ]
        )


class AuditTable(SnapshotTable):
    COLUMNS = (
        ("Seq", "seq"),
        ("Time", "time"),
        ("Kind", "kind"),
        ("Intent", "intent"),
        ("Summary", "summary"),
    )

    def show(self, beads: tuple[BeadView, ...]) -> None:
        self.set_rows(
            [
                (
                    str(b.seq),
                    (
                        right(str(b.seq), "dim"),
                        Text(b.ts.strftime("%H:%M:%S"), style="dim"),
                        shown(b.kind, style="bold"),
                        shown(b.intent_id or ""),
                        shown(b.summary),
                    ),
                )
                for b in reversed(beads)
            ]
        )
