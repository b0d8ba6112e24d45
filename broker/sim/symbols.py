"""The venue's symbol table: start prices, tick sizes and IB contract ids for demos."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SymbolSpec:
    """One tradable stock in the simulated venue."""

    symbol: str
    start_price: Decimal
    tick: Decimal = Decimal("0.01")
    con_id: int = 0
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    long_name: str = ""
    volatility_ticks: float = 2.0
    """Standard deviation of one random-walk step, in ticks."""


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("AAPL", Decimal("189.50"), con_id=265598, long_name="APPLE INC"),
    SymbolSpec("MSFT", Decimal("415.20"), con_id=272093, long_name="MICROSOFT CORP"),
    SymbolSpec(
        "SPY",
        Decimal("520.10"),
        con_id=756733,
        primary_exchange="ARCA",
        long_name="SPDR S&P 500 ETF TRUST",
    ),
    SymbolSpec(
        "NVDA", Decimal("875.40"), con_id=4815747, long_name="NVIDIA CORP", volatility_ticks=4.0
    ),
)


def synthetic_spec(symbol: str, tick: Decimal = Decimal("0.01")) -> SymbolSpec:
    """A stand-in spec for a symbol the table does not know (stable price per name)."""
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(symbol))
    price = Decimal(50 + seed % 200).quantize(tick)
    return SymbolSpec(symbol, price, tick=tick, con_id=90_000_000 + seed, long_name=symbol)
