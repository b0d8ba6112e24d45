"""The venue's symbol table: stocks and CME index futures with their IB contract facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from contracts.market import ContractFacts

QUARTER_MONTHS: dict[int, str] = {3: "H", 6: "M", 9: "U", 12: "Z"}
LISTED_EXPIRIES = 4
"""How many quarterly expiries a future lists at once (front month first)."""


@dataclass(frozen=True)
class SymbolSpec:
    """One tradable product in the simulated venue; a future's spec is its root (all expiries)."""

    symbol: str
    start_price: Decimal
    tick: Decimal = Decimal("0.01")
    con_id: int = 0
    """Stocks: the contract id. Futures: the base from which each expiry's id is derived."""
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    long_name: str = ""
    volatility_ticks: float = 2.0
    """Standard deviation of one random-walk step, in ticks."""
    sec_type: str = "STK"
    exchange: str = "SMART"
    multiplier: Decimal = Decimal(1)
    price_magnifier: int = 1
    size_increment: Decimal = Decimal(1)
    trading_class: str = ""
    init_margin: Decimal = Decimal(0)
    """Futures: initial margin per contract (stocks use a rate on the position value)."""
    maint_margin: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    """Futures: all-in commission per contract (stocks use IB's per-share schedule)."""

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"


@dataclass(frozen=True)
class Listing:
    """One listed contract: a stock, or one expiry of a future."""

    spec: SymbolSpec
    con_id: int
    expiry: date | None = None

    @property
    def contract_month(self) -> str:
        return f"{self.expiry:%Y%m}" if self.expiry else ""

    @property
    def last_trade_date(self) -> str:
        return f"{self.expiry:%Y%m%d}" if self.expiry else ""

    @property
    def local_symbol(self) -> str:
        """IB's local symbol: `MESZ6` for futures, the ticker for stocks."""
        if self.expiry is None:
            return self.spec.symbol
        return f"{self.spec.symbol}{QUARTER_MONTHS[self.expiry.month]}{self.expiry.year % 10}"

    @property
    def trading_class(self) -> str:
        return self.spec.trading_class or self.spec.symbol


def _future(
    symbol: str,
    price: str,
    multiplier: int,
    con_base: int,
    name: str,
    margins: tuple[str, str],
    commission: str,
) -> SymbolSpec:
    return SymbolSpec(
        symbol,
        Decimal(price),
        tick=Decimal("0.25"),
        con_id=con_base,
        primary_exchange="",
        long_name=name,
        volatility_ticks=2.0,
        sec_type="FUT",
        exchange="CME",
        multiplier=Decimal(multiplier),
        trading_class=symbol,
        init_margin=Decimal(margins[0]),
        maint_margin=Decimal(margins[1]),
        commission=Decimal(commission),
    )


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
    _future("MES", "5900.00", 5, 620_000_000, "Micro E-Mini S&P 500", ("2475", "2250"), "0.62"),
    _future("ES", "5900.00", 50, 620_100_000, "E-mini S&P 500", ("24750", "22500"), "2.25"),
    _future("MNQ", "20800.00", 2, 620_200_000, "Micro E-Mini Nasdaq-100", ("3410", "3100"), "0.62"),
    _future("NQ", "20800.00", 20, 620_300_000, "E-mini Nasdaq-100", ("34100", "31000"), "2.25"),
)


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month: the last trade date of CME quarterly index futures."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def quarterly_expiries(today: date, count: int = LISTED_EXPIRIES) -> list[date]:
    """The next `count` quarterly last trade dates (H/M/U/Z) on or after `today`."""
    out: list[date] = []
    year, month = today.year, today.month
    while len(out) < count:
        if month in QUARTER_MONTHS:
            expiry = third_friday(year, month)
            if expiry >= today:
                out.append(expiry)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def future_con_id(spec: SymbolSpec, expiry: date) -> int:
    """A stable conId per root and contract month."""
    return spec.con_id + (expiry.year - 2000) * 100 + expiry.month


def listings(spec: SymbolSpec, today: date) -> list[Listing]:
    """Every contract of a product listed on `today` (front month first for futures)."""
    if not spec.is_future:
        return [Listing(spec, spec.con_id)]
    return [Listing(spec, future_con_id(spec, e), e) for e in quarterly_expiries(today)]


def listing_by_con_id(specs: list[SymbolSpec], con_id: int) -> Listing | None:
    """The contract with this conId, expired futures included (their ids stay stable)."""
    for spec in specs:
        if not spec.is_future:
            if spec.con_id == con_id:
                return Listing(spec, con_id)
            continue
        offset = con_id - spec.con_id
        year, month = 2000 + offset // 100, offset % 100
        if 0 < offset < 10_000 and month in QUARTER_MONTHS:
            return Listing(spec, con_id, third_friday(year, month))
    return None


def find_listings(
    specs: list[SymbolSpec],
    today: date,
    *,
    symbol: str = "",
    sec_type: str = "",
    exchange: str = "",
    expiry: str = "",
    con_id: int = 0,
    currency: str = "",
) -> list[Listing]:
    """IB contract-details matching: by conId, else by symbol + sec type (+ exchange, expiry).

    A future with no expiry matches every listed expiry; an expiry is YYYYMM (contract month)
    or YYYYMMDD (last trade date). Unknown contracts give an empty list.
    """
    if con_id:
        found = listing_by_con_id(specs, con_id)
        return [found] if found is not None else []
    out: list[Listing] = []
    for spec in specs:
        if spec.symbol != symbol or (sec_type or "STK") != spec.sec_type:
            continue
        if currency and currency != spec.currency:
            continue
        if exchange and not _trades_on(spec, exchange):
            continue
        for listing in listings(spec, today):
            if expiry and expiry not in (listing.contract_month, listing.last_trade_date):
                continue
            out.append(listing)
    return out


FUTURES_EXCHANGES = frozenset({"CME", "GLOBEX", "CBOT", "NYMEX", "COMEX"})


def _trades_on(spec: SymbolSpec, exchange: str) -> bool:
    """Futures trade on their exchange (or SMART); a stock on SMART or any stock exchange."""
    if spec.is_future:
        return exchange in {spec.exchange, "GLOBEX", "SMART"}
    return exchange not in FUTURES_EXCHANGES


def listing_facts(listing: Listing) -> ContractFacts:
    """The broker's description of a listed contract (the instrument master's row)."""
    spec = listing.spec
    return ContractFacts(
        con_id=listing.con_id,
        symbol=spec.symbol,
        sec_type=spec.sec_type,
        exchange=spec.exchange,
        currency=spec.currency,
        multiplier=spec.multiplier,
        min_tick=spec.tick,
        price_magnifier=spec.price_magnifier,
        size_increment=spec.size_increment,
        expiry=listing.expiry,
        trading_class=listing.trading_class,
        primary_exchange=spec.primary_exchange,
        long_name=spec.long_name,
    )


def synthetic_spec(symbol: str, tick: Decimal = Decimal("0.01")) -> SymbolSpec:
    """A stand-in spec for a symbol the table does not know (stable price per name)."""
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(symbol))
    price = Decimal(50 + seed % 200).quantize(tick)
    return SymbolSpec(symbol, price, tick=tick, con_id=90_000_000 + seed, long_name=symbol)
