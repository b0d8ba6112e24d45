"""Per-account cash, positions, realized P&L, commissions and margin arithmetic (Decimal)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from broker.sim.symbols import SymbolSpec
from contracts.enums import Side

CENT = Decimal("0.01")
PER_SHARE = Decimal("0.005")
MIN_COMMISSION = Decimal("1.00")
MAX_COMMISSION_RATE = Decimal("0.01")
INIT_MARGIN_RATE = Decimal("0.25")
MAINT_MARGIN_RATE = Decimal("0.20")
LEVERAGE = Decimal(4)


def commission_for(quantity: Decimal, price: Decimal, spec: SymbolSpec | None = None) -> Decimal:
    """IBKR fixed pricing: futures per contract; stocks $0.005/share, min $1.00, max 1%."""
    if spec is not None and spec.is_future:
        return (quantity * spec.commission).quantize(CENT, rounding=ROUND_HALF_UP)
    fee = max(MIN_COMMISSION, quantity * PER_SHARE)
    fee = min(fee, quantity * price * MAX_COMMISSION_RATE)
    return fee.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class SimPosition:
    """Signed quantity and average cost of one symbol in one account."""

    account: str
    symbol: str
    quantity: Decimal = Decimal(0)
    avg_cost: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    con_id: int = 0
    """The contract last traded (a future's expiry); 0 for the symbol's default listing."""


@dataclass(frozen=True)
class AccountState:
    """An account's numbers at one moment, marked to the given prices."""

    account: str
    currency: str
    cash: Decimal
    net_liquidation: Decimal
    gross_position_value: Decimal
    init_margin: Decimal
    maint_margin: Decimal
    available_funds: Decimal
    excess_liquidity: Decimal
    buying_power: Decimal
    cushion: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    commissions: Decimal


@dataclass
class Ledger:
    """One account's books."""

    account: str
    starting_cash: Decimal
    currency: str = "USD"
    cash: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    commissions: Decimal = Decimal(0)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    specs: dict[str, SymbolSpec] = field(default_factory=dict)
    """The contract terms (multiplier, futures margin) of every symbol this account traded."""

    def __post_init__(self) -> None:
        self.cash = self.starting_cash

    def position(self, symbol: str) -> SimPosition:
        return self.positions.setdefault(symbol, SimPosition(self.account, symbol))

    def apply_fill(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        commission: Decimal,
        spec: SymbolSpec | None = None,
        con_id: int = 0,
    ) -> Decimal | None:
        """Book one fill; returns realized P&L (gross of commission) or None if it only opened.

        Futures move no cash on a fill (only commission and, on closing, realized P&L), and
        their P&L is points x multiplier.
        """
        if spec is not None:
            self.specs[symbol] = spec
        multiplier = spec.multiplier if spec is not None else Decimal(1)
        is_future = spec is not None and spec.is_future
        pos = self.position(symbol)
        pos.con_id = con_id or pos.con_id
        signed = quantity * side.sign
        self.cash -= commission if is_future else signed * price + commission
        self.commissions += commission
        realized: Decimal | None = None
        if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
            total = pos.quantity + signed
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + price * quantity) / abs(total)
            pos.quantity = total
        else:
            closing = min(quantity, abs(pos.quantity))
            direction = Decimal(1) if pos.quantity > 0 else Decimal(-1)
            realized = (price - pos.avg_cost) * closing * direction * multiplier
            if is_future:
                self.cash += realized
            pos.realized_pnl += realized
            self.realized_pnl += realized
            pos.quantity += signed
            if pos.quantity == 0:
                pos.avg_cost = Decimal(0)
            elif (pos.quantity > 0) != (direction > 0):
                pos.avg_cost = price
        return realized

    def state(self, marks: Mapping[str, Decimal]) -> AccountState:
        """Mark every position to `marks` (symbol -> price) and derive the margin numbers."""
        market_value = Decimal(0)
        gross = Decimal(0)
        unrealized = Decimal(0)
        futures_init = Decimal(0)
        futures_maint = Decimal(0)
        for pos in self.positions.values():
            if pos.quantity == 0:
                continue
            mark = marks.get(pos.symbol, pos.avg_cost)
            spec = self.specs.get(pos.symbol)
            pnl = (mark - pos.avg_cost) * pos.quantity
            if spec is not None and spec.is_future:
                unrealized += pnl * spec.multiplier
                market_value += pnl * spec.multiplier
                futures_init += abs(pos.quantity) * spec.init_margin
                futures_maint += abs(pos.quantity) * spec.maint_margin
                continue
            market_value += pos.quantity * mark
            gross += abs(pos.quantity) * mark
            unrealized += pnl
        nav = self.cash + market_value
        init = (gross * INIT_MARGIN_RATE + futures_init).quantize(CENT)
        maint = (gross * MAINT_MARGIN_RATE + futures_maint).quantize(CENT)
        available = nav - init
        excess = nav - maint
        cushion = (excess / nav).quantize(Decimal("0.0001")) if nav > 0 else Decimal(0)
        return AccountState(
            account=self.account,
            currency=self.currency,
            cash=self.cash,
            net_liquidation=nav,
            gross_position_value=gross,
            init_margin=init,
            maint_margin=maint,
            available_funds=available,
            excess_liquidity=excess,
            buying_power=max(Decimal(0), available * LEVERAGE),
            cushion=cushion,
            realized_pnl=self.realized_pnl,
            unrealized_pnl=unrealized,
            commissions=self.commissions,
        )
