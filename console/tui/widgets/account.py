"""The account strip: NetLiq, available funds, buying power and the day's P&L, in one line."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from console.tui import format as fmt
from console.tui.text import drawn, printable
from engine.view import EngineSnapshot


def day_pnl(snapshot: EngineSnapshot) -> tuple[Decimal, Decimal, Decimal]:
    """(realized net of commission, unrealized over the Positions panel's rows, their sum)."""
    unrealized = sum((p.unrealized_pnl for p in snapshot.positions), Decimal(0))
    realized = snapshot.realized_pnl_today
    return realized, unrealized, realized + unrealized


def _signed(value: Decimal) -> Text:
    style = "bold green" if value > 0 else ("bold red" if value < 0 else "bold")
    return Text(fmt.money(value, signed=True), style=style)


class AccountStrip(Widget):
    """Never dropped: on a narrow terminal the breakdown goes first, the day P&L last."""

    DEFAULT_CSS = """
    AccountStrip {
        height: 1; width: 1fr; background: $boost; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: EngineSnapshot | None = None
        self._drawn: object = None

    def show(self, snapshot: EngineSnapshot | None) -> None:
        if snapshot is not self.snapshot:
            self.snapshot = snapshot
            shows = drawn((part, None) for part in self.parts())
            if shows != self._drawn:  # a new snapshot that reads the same is not redrawn
                self._drawn = shows
                self.refresh()

    def parts(self) -> list[Text]:
        """Most important first; `render` drops from the end to fit."""
        snap = self.snapshot
        if snap is None:
            return [Text("account: waiting for the engine", style="dim")]
        realized, unrealized, total = day_pnl(snap)
        day = Text("day ") + _signed(total) + Text(" net")
        parts = [day]
        account = snap.account
        if account is not None:
            currency = printable(account.currency)
            parts.append(Text(f"NetLiq {fmt.money(account.net_liquidation)} {currency}"))
        parts.append(
            Text("rlzd ") + _signed(realized) + Text(" (after comm.) + unrl ") + _signed(unrealized)
        )
        if account is not None:
            parts.append(Text(f"avail {fmt.money(account.available_funds)}"))
            parts.append(Text(f"BP {fmt.money(account.buying_power)}"))
        return parts

    def render(self) -> RenderResult:
        parts = self.parts()
        width = max(1, self.size.width)
        while len(parts) > 1 and sum(p.cell_len + 3 for p in parts) - 3 > width:
            parts.pop()
        return Text(" · ", style="dim").join(parts)
