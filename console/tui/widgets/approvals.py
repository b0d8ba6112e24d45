"""The pending-approval queue: one row per intent with its token's live countdown."""

from __future__ import annotations

from rich.text import Text

from console.tui import format as fmt
from console.tui.text import printable, shown
from console.tui.widgets.row_patched_table import RowPatchedTable
from engine.view import PendingApproval


def trade_text(pending: PendingApproval) -> str:
    order = pending.intent.order
    px = order.limit_price or order.stop_price
    at = f" {order.order_type.value} {fmt.price(px)}" if px is not None else " MKT"
    symbol = printable(order.instrument.symbol)
    return f"{order.side.value} {fmt.qty(order.quantity)} {symbol}{at}"


def countdown_text(pending: PendingApproval, now_mono: float) -> Text:
    left = pending.seconds_left(now_mono)
    style = "bold red" if left <= 0 else ("bold #ffaf00" if left < 60 else "bold")
    return Text(fmt.countdown(left), style=style, justify="right")


def queue_row(pending: PendingApproval) -> tuple[str, str, bool]:
    """What a queue row shows apart from its countdown."""
    return (pending.intent.intent_id, trade_text(pending), pending.risk_ok)


class ApprovalQueue(RowPatchedTable):
    """Pending approvals, oldest first; the cursor row is the trade the evidence panel shows."""

    DEFAULT_CSS = """
    ApprovalQueue { height: auto; max-height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.pending: tuple[PendingApproval, ...] = ()
        self.now_mono = 0.0
        self._shown_countdowns: dict[str, Text] = {}

    def on_mount(self) -> None:
        self.add_column("exp", key="exp", width=7)
        self.add_column("trade", key="trade")
        self.add_column("risk", key="risk", width=4)
        self.add_column("intent", key="intent")

    @property
    def selected_intent_id(self) -> str | None:
        if not self.pending or self.cursor_row < 0 or self.cursor_row >= len(self.pending):
            return None
        return self.pending[self.cursor_row].intent.intent_id

    def show(self, pending: tuple[PendingApproval, ...], now_mono: float) -> None:
        """Set the queue; keeps the cursor on the same intent when rows come and go."""
        self.now_mono = now_mono
        if [queue_row(p) for p in pending] == [queue_row(p) for p in self.pending]:
            self.pending = pending  # the same rows (a check re-worded with a price): no rebuild
            self.tick(now_mono)
            return
        keep = self.selected_intent_id
        self.pending = pending
        self._shown_countdowns = {p.intent.intent_id: countdown_text(p, now_mono) for p in pending}
        self.clear()
        for p in pending:
            risk = Text("ok", style="green") if p.risk_ok else Text("DENY", style="bold red")
            self.add_row(
                countdown_text(p, now_mono),
                Text(trade_text(p)),
                risk,
                shown(p.intent.intent_id, style="dim"),
                key=p.intent.intent_id,
            )
        ids = [p.intent.intent_id for p in pending]
        if keep in ids:
            self.move_cursor(row=ids.index(keep), animate=False)
        elif pending:
            self.move_cursor(row=0, animate=False)

    def tick(self, now_mono: float) -> None:
        """Refresh the countdown cells that changed."""
        self.now_mono = now_mono
        for p in self.pending:
            key = p.intent.intent_id
            text = countdown_text(p, now_mono)
            if self._shown_countdowns.get(key) != text:
                self._shown_countdowns[key] = text
                self.patch_cell(key, "exp", text)
