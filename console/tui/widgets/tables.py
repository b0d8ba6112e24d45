"""Positions, orders (live + history), alerts and audit tables: plain attributes in, rows out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.message import Message
from textual.widgets.data_table import ColumnKey, RowKey

from console.tui import format as fmt
from console.tui.text import printable, shown
from console.tui.widgets.snapshot_table import CHILD, Cell, Row, SnapshotTable
from contracts.enums import AlertLevel, LifecycleState, OrderLeg
from contracts.events import AlertRaised
from engine.view import BeadView, LegView, OrderView, PositionView

__all__ = ["Cell", "SnapshotTable"]


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


MAX_FINISHED_ORDERS = 200
"""Finished orders kept in the history view (newest first); the audit screen has the rest."""
LEG_NAMES = {OrderLeg.STOP_LOSS: "stop", OrderLeg.TAKE_PROFIT: "target"}


def parent_key(row_key: str) -> str:
    """The intent id of a row: a child row (leg, style) belongs to its parent order."""
    return row_key.split(CHILD, 1)[0]


def leg_status(order: OrderView, leg: LegView) -> tuple[str, str]:
    """The word and style for a bracket leg: its own fill, else what its parent allows.

    An entry with exits is MANAGED while they work at the broker; once they are cancelled
    (a kill, a flatten, a broker's cancel) it is FILLED again: the exits no longer protect
    anything, and saying WORKING would tell the trader a stop is there when none is. A leg the
    broker cancelled alone (a target typed away in TWS) is CANCELLED under a MANAGED parent."""
    if leg.filled and leg.filled >= order.filled:
        return ("FILLED", "bold green")
    if order.state is LifecycleState.MANAGED and not leg.gone:
        return ("WORKING", "#5fafff")
    if order.state in (LifecycleState.MANAGED, LifecycleState.FILLED):
        return ("CANCELLED", "bold red")
    if order.state.is_terminal:
        return ("DONE", "dim")
    return ("ATTACHED", "dim")  # works once the entry fills


class OrdersTable(SnapshotTable):
    """Live orders (STALLED on top) with a ticking time in state, each followed by its
    execution style's progress and its bracket stop and target, indented. `h` switches to the
    history: finished orders, newest first, with when they finished."""

    HAS_CHILD_ROWS = True
    COLUMNS = (
        ("State", "state"),
        ("In state", "since"),
        ("Symbol", "symbol"),
        ("Side", "side"),
        ("Type", "type"),
        ("Px", "px"),
        ("Filled", "filled"),
        ("Avg", "avg"),
        ("Intent", "intent"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "toggle_history", "Order history", show=False)
    ]

    class ViewChanged(Message):
        """The table switched between live orders and the history."""

        def __init__(self, history: bool) -> None:
            super().__init__()
            self.history = history

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = False
        """Showing finished orders (the history view) instead of the live ones."""
        self._orders: tuple[OrderView, ...] = ()
        self._now: datetime | None = None

    @property
    def selected_intent_id(self) -> str | None:
        """The order under the cursor (a leg or style row selects its parent)."""
        if not self.row_count or not 0 <= self.cursor_row < len(self._order):
            return None
        return parent_key(self._order[self.cursor_row])

    def action_toggle_history(self) -> None:
        self.history = not self.history
        self.columns[ColumnKey("since")].label = Text("Ended" if self.history else "In state")
        if self._now is not None:
            self.show(self._orders, self._now)
        self.move_cursor(row=0, animate=False)
        self.scroll_home(animate=False)
        self.post_message(self.ViewChanged(self.history))

    def show(self, orders: tuple[OrderView, ...], now: datetime) -> None:
        self._orders, self._now = orders, now
        ordered = sorted(orders, key=order_sort_key)
        if self.history:
            shown_orders = [o for o in ordered if o.state.is_terminal][:MAX_FINISHED_ORDERS]
        else:
            shown_orders = [o for o in ordered if not o.state.is_terminal]
        rows: list[Row] = []
        for o in shown_orders:
            rows.append(self._row(o, now))
            if o.style is not None:
                rows.append(self._style_row(o))
            rows.extend(self._leg_row(o, leg) for leg in o.legs)
        self.set_rows(rows)

    @staticmethod
    def _row(o: OrderView, now: datetime) -> Row:
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
                right(f"{fmt.qty(o.filled)}/{fmt.qty(o.requested)}"),
                right(fmt.price(o.avg_fill_price) if o.avg_fill_price is not None else ""),
                shown(o.intent_id, style="dim"),
            ),
        )

    @staticmethod
    def _style_row(o: OrderView) -> Row:
        """The execution style under its order: steps the broker confirmed, the quantity and
        limit working now, filled of that, and the newest step (or how it ended)."""
        style = o.style
        assert style is not None
        state = Text(f"  └ {style.kind}", style="dim" if style.done else "#87afd7")
        note = style.outcome if style.done else style.last_step
        return (
            f"{o.intent_id}{CHILD}style",
            (
                state,
                right(f"{style.steps} step{'' if style.steps == 1 else 's'}", "dim"),
                Text(""),
                Text(""),
                Text(""),
                right(fmt.price(style.limit_price)),
                right(f"{fmt.qty(o.filled)}/{fmt.qty(style.working_quantity)}"),
                right(fmt.price(o.avg_fill_price) if o.avg_fill_price is not None else ""),
                shown(note, style="dim"),
            ),
        )

    @staticmethod
    def _leg_row(o: OrderView, leg: LegView) -> Row:
        word, style = leg_status(o, leg)
        exit_side = "SELL" if o.side.value == "BUY" else "BUY"
        return (
            f"{o.intent_id}{CHILD}{leg.leg.value}",
            (
                Text(f"  └ {LEG_NAMES.get(leg.leg, leg.leg.value)}", style="dim"),
                Text(word, style=style, justify="right"),
                Text(""),
                Text(exit_side, style="dim"),
                Text("STP" if leg.leg is OrderLeg.STOP_LOSS else "LMT", style="dim"),
                right(fmt.price(leg.price)),
                right(f"{fmt.qty(leg.filled)}/{fmt.qty(o.filled)}", "dim"),
                right(fmt.price(leg.avg_fill_price) if leg.avg_fill_price is not None else ""),
                Text(""),
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
    """Newest first; each alert's whole text, wrapped to the panel's width (never cut off)."""

    COLUMNS = (("Time", "time"), ("Alert", "alert"))
    TIME_WIDTH = 8
    WIDTHS: ClassVar[dict[str, int]] = {"time": TIME_WIDTH, "alert": 40}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text_width = 0
        """The width alert text wraps at (the panel's width less the time column)."""

    def on_resize(self, event: Resize) -> None:
        # time column + its padding + the alert column's padding + the scrollbar
        width = max(20, event.size.width - self.TIME_WIDTH - 2 * self.cell_padding - 3)
        if width == self.text_width:
            return
        self.text_width = width
        self.columns[ColumnKey("alert")].width = width
        given, self._given = self._given, []
        self._apply()  # wrapped row heights depend on the width: re-add them (resize only)
        self.set_rows(given)

    def add_row(
        self,
        *cells: Cell,
        height: int | None = 1,
        key: str | None = None,
        label: Text | str | None = None,
    ) -> RowKey:
        return super().add_row(*cells, height=None, key=key, label=label)

    def show(self, alerts: tuple[AlertRaised, ...]) -> None:
        self.set_rows(
            [
                (
                    a.event_id,
                    (
                        Text(a.ts_event.strftime("%H:%M:%S"), style="dim"),
                        alert_text(a, with_time=False),
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
