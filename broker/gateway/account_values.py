"""Account tags (updateAccountValue / accountUpdateMulti / accountSummary) from venue numbers."""

from __future__ import annotations

from decimal import Decimal

from broker.sim.ledger import AccountState

AccountValue = tuple[str, str, str]
"""(tag, value, currency)."""

LEDGER_TAGS = ("CashBalance", "TotalCashBalance", "RealizedPnL", "UnrealizedPnL",
               "NetLiquidationByCurrency", "StockMarketValue")  # fmt: skip


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def account_values(state: AccountState) -> list[AccountValue]:
    """Everything reqAccountUpdates(Multi) reports, TWS names, money with 2 decimals."""
    ccy = state.currency
    nav = money(state.net_liquidation)
    leverage = (
        state.gross_position_value / state.net_liquidation
        if state.net_liquidation > 0
        else Decimal(0)
    )
    return [
        ("AccountCode", state.account, ""),
        ("AccountReady", "true", ""),
        ("AccountType", "INDIVIDUAL", ""),
        ("AvailableFunds", money(state.available_funds), ccy),
        ("BuyingPower", money(state.buying_power), ccy),
        ("CashBalance", money(state.cash), "BASE"),
        ("CashBalance", money(state.cash), ccy),
        ("Currency", "BASE", "BASE"),
        ("Currency", ccy, ccy),
        ("Cushion", f"{state.cushion}", ""),
        ("DayTradesRemaining", "-1", ""),
        ("EquityWithLoanValue", nav, ccy),
        ("ExcessLiquidity", money(state.excess_liquidity), ccy),
        ("FullAvailableFunds", money(state.available_funds), ccy),
        ("FullExcessLiquidity", money(state.excess_liquidity), ccy),
        ("FullInitMarginReq", money(state.init_margin), ccy),
        ("FullMaintMarginReq", money(state.maint_margin), ccy),
        ("GrossPositionValue", money(state.gross_position_value), ccy),
        ("InitMarginReq", money(state.init_margin), ccy),
        ("Leverage-S", f"{leverage.quantize(Decimal('0.01'))}", ""),
        ("LookAheadAvailableFunds", money(state.available_funds), ccy),
        ("LookAheadExcessLiquidity", money(state.excess_liquidity), ccy),
        ("LookAheadInitMarginReq", money(state.init_margin), ccy),
        ("LookAheadMaintMarginReq", money(state.maint_margin), ccy),
        ("MaintMarginReq", money(state.maint_margin), ccy),
        ("NetLiquidation", nav, ccy),
        ("NetLiquidationByCurrency", nav, "BASE"),
        ("RealizedPnL", money(state.realized_pnl), "BASE"),
        ("StockMarketValue", money(state.gross_position_value), "BASE"),
        ("TotalCashBalance", money(state.cash), "BASE"),
        ("TotalCashValue", money(state.cash), ccy),
        # What the account may trade, as TWS reports it (stocks and options; no futures segment).
        ("TradingType-S", "STKNOPT", ""),
        ("UnrealizedPnL", money(state.unrealized_pnl), "BASE"),
    ]


def summary_values(state: AccountState, tags: str) -> list[AccountValue]:
    """accountSummary answers: the requested tags we know, plus `$LEDGER` currency rows."""
    wanted = {t.strip() for t in tags.split(",") if t.strip()}
    ledger = any(t.startswith("$LEDGER") for t in wanted)
    out: list[AccountValue] = []
    seen: set[str] = set()
    for tag, value, currency in account_values(state):
        if currency == "BASE":
            if ledger and tag in LEDGER_TAGS:
                out.append((tag, value, currency))
            continue
        if tag in wanted and tag not in seen:
            seen.add(tag)
            out.append((tag, value, currency))
    return out
