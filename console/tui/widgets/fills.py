"""The fills blotter: one row per fill with its commission, slippage and intent."""

from __future__ import annotations

from rich.text import Text

from console.tui import format as fmt
from console.tui.text import shown
from console.tui.widgets.snapshot_table import Row, SnapshotTable
from engine.fill_journal import FillJournalRow


def slippage_text(row: FillJournalRow) -> Text:
    """Ticks and dollars; positive is worse for the trader (red), negative better (green)."""
    if row.slippage_ticks is None:
        return Text("-", style="dim", justify="right")
    ticks = row.slippage_ticks.normalize()
    if not ticks:
        return Text("0t", style="dim", justify="right")
    money = f" {fmt.money(row.slippage_usd, signed=True)}" if row.slippage_usd is not None else ""
    style = "red" if ticks > 0 else "green"
    return Text(f"{ticks:+}t{money}", style=style, justify="right")


def fill_key(row: FillJournalRow, seen: dict[str, int]) -> str:
    """A stable key per fill: intent, leg and time, numbered when they repeat."""
    base = f"{row.intent_id}|{row.leg.value}|{row.ts.isoformat()}"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}|{seen[base]}"


class FillsTable(SnapshotTable):
    """Newest first: time, side, quantity, symbol, price, commission, slippage, intent."""

    COLUMNS = (
        ("Time", "time"),
        ("Side", "side"),
        ("Qty", "qty"),
        ("Symbol", "symbol"),
        ("Price", "price"),
        ("Comm", "comm"),
        ("Slippage", "slip"),
        ("Leg", "leg"),
        ("Intent", "intent"),
    )

    def show(self, fills: tuple[FillJournalRow, ...]) -> None:
        seen: dict[str, int] = {}
        rows: list[Row] = [(fill_key(f, seen), self._cells_for(f)) for f in fills]
        rows.reverse()
        self.set_rows(rows)

    @staticmethod
    def _cells_for(f: FillJournalRow) -> tuple[Text, ...]:
        commission = -f.commission if f.commission is not None else None
        return (
            Text(f.ts.strftime("%H:%M:%S"), style="dim"),
            Text(f.side.value, style="green" if f.side.value == "BUY" else "red"),
            Text(fmt.qty(f.quantity), justify="right"),
            shown(f.symbol, style="bold"),
            Text(fmt.price(f.price), justify="right"),
            Text(
                fmt.money(commission, signed=True) if commission is not None else "-",
                style="dim" if not commission else "",
                justify="right",
            ),
            slippage_text(f),
            Text(f.leg.value, style="dim"),
            shown(f.intent_id, style="dim"),
        )
