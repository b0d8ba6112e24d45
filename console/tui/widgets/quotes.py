"""The quotes panel: bid, ask, last, spread and change for the symbols the trader is exposed to."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from rich.text import Text

from console.tui import format as fmt
from console.tui.engine_api import ConsoleEngine
from console.tui.text import printable
from console.tui.widgets.row_patched_table import RowPatchedTable
from contracts.broker import Quote
from engine.view import EngineSnapshot

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Symbol", "symbol", 6),
    ("Bid", "bid", 8),
    ("Ask", "ask", 8),
    ("Last", "last", 8),
    ("Sprd", "spread", 6),
    ("Chg", "change", 7),
)
"""Fixed widths, no cell padding (43 columns; right-aligned numbers keep a space between
them up to 9999.99): a price tick rewrites a cell, never re-measures the table."""


def quoted_symbols(snapshot: EngineSnapshot | None, configured: Iterable[str]) -> tuple[str, ...]:
    """The configured symbols, then every symbol with a pending trade, position or working
    order (each once, in that order)."""
    symbols = [s.strip().upper() for s in configured if s.strip()]
    if snapshot is not None:
        symbols += [p.intent.order.instrument.symbol for p in snapshot.pending]
        symbols += [p.symbol for p in snapshot.positions if p.quantity]
        symbols += [o.symbol for o in snapshot.orders if o.state.is_working]
    return tuple(dict.fromkeys(symbols))


def quotes_for(
    engine: ConsoleEngine, snapshot: EngineSnapshot | None, configured: Iterable[str]
) -> tuple[tuple[str, Quote | None], ...]:
    """(symbol, latest quote or None) for every symbol the panel shows."""
    return tuple((s, engine.quote(s)) for s in quoted_symbols(snapshot, configured))


async def watch_configured(engine: ConsoleEngine, configured: Iterable[str]) -> None:
    """Subscribe to the configured symbols' quotes once the engine runs (others are watched
    already: the engine subscribes to every symbol it trades)."""
    for symbol in configured:
        if symbol.strip():
            await engine.lookup_contract(symbol.strip().upper())


def _right(text: str, key: str, style: str = "") -> Text:
    """Right-aligned inside its column with one space after (the table has no padding)."""
    width = next(w for _, k, w in COLUMNS if k == key)
    return Text(text[: width - 1].rjust(width - 1) + " ", style=style)


def _num(value: Decimal | None, key: str, style: str = "") -> Text:
    return _right(fmt.price(value) if value is not None else "-", key, style)


def cells(quote: Quote | None, first_last: Decimal | None) -> tuple[Text, ...]:
    """The price cells of one row (symbol excluded)."""
    if quote is None:
        return (
            Text("no quote", style="dim #ffaf00"),
            *(_right("-", key, "dim") for key in ("ask", "last", "spread", "change")),
        )
    spread = quote.ask - quote.bid if quote.bid is not None and quote.ask is not None else None
    change: Text
    if quote.last is not None and first_last is not None:
        delta = quote.last - first_last
        style = "green" if delta > 0 else ("red" if delta < 0 else "")
        change = _right(f"{delta:+.2f}", "change", style)
    else:
        change = _right("-", "change", "dim")
    crossed = spread is not None and spread <= 0
    return (
        _num(quote.bid, "bid", "bold"),
        _num(quote.ask, "ask", "bold"),
        _num(quote.last, "last"),
        _num(spread, "spread", "bold white on #d70000" if crossed else ""),
        change,
    )


class QuotesPanel(RowPatchedTable):
    """One row per symbol. Rows are added or removed only when the set of symbols changes;
    a price tick updates just the cells whose text changed."""

    DEFAULT_CSS = """
    QuotesPanel { height: auto; max-height: 7; overflow-x: hidden; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="none", zebra_stripes=False, show_cursor=False, cell_padding=0
        )
        self.can_focus = False
        self._symbols: tuple[str, ...] | None = None
        """None until the first `show`: the panel hides while there is nothing to quote."""
        self._shown: dict[tuple[str, str], Text] = {}
        self.first_last: dict[str, Decimal] = {}
        """The first last price seen per symbol: `Chg` is measured from it (this session)."""
        self.updates = 0
        """Cells rewritten so far (diagnostics: a tick rewrites only what moved)."""

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            header = Text(label.ljust(width)) if key == "symbol" else _right(label, key)
            self.add_column(header, key=key, width=width)

    def show(self, quotes: tuple[tuple[str, Quote | None], ...]) -> None:
        symbols = tuple(s for s, _ in quotes)
        for symbol, quote in quotes:
            if quote is not None and quote.last is not None:
                self.first_last.setdefault(symbol, quote.last)
        if symbols != self._symbols:
            self._rebuild(quotes)
            return
        for symbol, quote in quotes:
            for (_, key, _), text in zip(
                COLUMNS[1:], cells(quote, self.first_last.get(symbol)), strict=True
            ):
                if self._shown.get((symbol, key)) != text:
                    self._shown[(symbol, key)] = text
                    self.updates += 1
                    self.patch_cell(symbol, key, text)

    def _rebuild(self, quotes: tuple[tuple[str, Quote | None], ...]) -> None:
        self._symbols = tuple(s for s, _ in quotes)
        self._shown = {}
        self.clear()
        for symbol, quote in quotes:
            row = cells(quote, self.first_last.get(symbol))
            for (_, key, _), text in zip(COLUMNS[1:], row, strict=True):
                self._shown[(symbol, key)] = text
            self.add_row(Text(printable(symbol)[:6], style="bold"), *row, key=symbol)
        self.display = bool(quotes)
