"""Pre-trade checks: every check returns an outcome (pass or a reason code with numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from contracts.broker import Quote
from contracts.config import RiskConfig, StaleConfig
from contracts.enums import DenialReason, OrderType, Regime, Side, TradingState
from contracts.events import CheckOutcome
from contracts.intent import Intent
from contracts.market import ContractFacts
from engine.instruments import NOT_RESOLVED, Resolution, nearest_on_grid, off_grid

R = DenialReason


@dataclass(frozen=True)
class RiskContext:
    """Everything the checks look at, gathered by the engine at one instant."""

    now: datetime
    quote: Quote | None
    position: Decimal
    """Signed position in the intent's symbol."""
    working_same_side: Decimal
    """Unfilled quantity of working entry orders in the symbol on the intent's side."""
    trades_today: int
    realized_pnl_today: Decimal
    consecutive_losses: int
    trading_state: TradingState
    kill_flags: tuple[str, ...]
    connected: bool
    recent_identical_s: float | None
    """Seconds since an identical order left (None if none did within the window)."""
    strategy_live: bool | None = None
    """In live mode: whether the intent's strategy was promoted to LIVE (None otherwise)."""
    max_position_override: Decimal | None = None
    """A tighter position cap from the scale-up tier, if one is in force."""
    instrument: Resolution = NOT_RESOLVED
    """The instrument master's facts for the intent's contract (or why there are none)."""
    quote_age_s: float | None = None
    """Seconds since the quote arrived, on the monotonic clock (None: use the quote's stamp)."""
    working_orders_same_side: int = 0
    """Orders working at the broker in the contract on the intent's side (exits included)."""


def reduces_position(intent: Intent, position: Decimal, working: Decimal = Decimal(0)) -> bool:
    """True if the order only shrinks an existing position (never flips or grows it), counting
    `working`: the unfilled quantity already working on the same side."""
    order = intent.order
    if position == 0:
        return False
    closes_side = Side.SELL if position > 0 else Side.BUY
    return order.side is closes_side and order.quantity + working <= abs(position)


def stale_ttl(regime: Regime, cfg: StaleConfig) -> timedelta:
    minutes = {
        Regime.NORMAL: cfg.ttl_normal_min,
        Regime.HIGH_VOLATILITY: cfg.ttl_high_volatility_min,
        Regime.NEAR_NEWS: cfg.ttl_near_news_min,
    }[regime]
    return timedelta(minutes=minutes)


def two_sided(quote: Quote | None) -> bool:
    """A quote the engine may price against: both a bid and an ask, positive."""
    return (
        quote is not None
        and quote.bid is not None
        and quote.ask is not None
        and quote.bid > 0
        and quote.ask > 0
    )


def reference_price(intent: Intent, quote: Quote | None) -> Decimal | None:
    """The price an order is valued at: its limit/stop, or the side of the quote it takes."""
    o = intent.order
    if o.limit_price is not None:
        return o.limit_price
    if o.stop_price is not None:
        return o.stop_price
    if quote is None:
        return None
    take = quote.ask if o.side is Side.BUY else quote.bid
    return take if take is not None else quote.last


def pre_trade_checks(
    intent: Intent, ctx: RiskContext, risk: RiskConfig, stale: StaleConfig
) -> tuple[CheckOutcome, ...]:
    """Run every check; the order may go only if all passed."""
    order = intent.order
    reducing = reduces_position(intent, ctx.position, ctx.working_same_side)
    out: list[CheckOutcome] = []

    def check(name: str, ok: bool, detail: str, reason: DenialReason) -> None:
        out.append(CheckOutcome(name=name, passed=ok, detail=detail, reason=None if ok else reason))

    # Trading state and connection.
    if ctx.trading_state is TradingState.HALTED:
        check("trading state", False, "HALTED: no orders until re-armed", R.HALTED)
    elif ctx.trading_state is TradingState.REDUCING and not reducing:
        check("trading state", False, "REDUCING: only risk-reducing orders", R.REDUCING_ONLY)
    else:
        check("trading state", True, ctx.trading_state.value, R.HALTED)
    check(
        "broker connection",
        ctx.connected,
        "connected" if ctx.connected else "broker disconnected",
        R.DISCONNECTED,
    )
    if not reducing and ctx.strategy_live is not None:
        check(
            "strategy stage",
            ctx.strategy_live,
            f"{intent.strategy} is LIVE" if ctx.strategy_live else f"{intent.strategy} is SHADOW",
            R.STRATEGY_NOT_LIVE,
        )
    if not reducing:
        flags = ", ".join(ctx.kill_flags)
        check("kill flags", not ctx.kill_flags, flags or "none active", R.KILL_FLAG)

    # Stale state (exits bypass it).
    age = ctx.now - intent.state_ts
    ttl = stale_ttl(intent.regime, stale)
    if reducing:
        check("state freshness", True, "risk-reducing order: not gated", R.STATE_CONFLICT)
    else:
        check(
            "state freshness",
            age <= ttl,
            f"state {_minutes(age)} old, TTL {_minutes(ttl)} ({intent.regime.value})",
            R.STATE_CONFLICT,
        )

    # The contract, as the broker describes it: nothing is valued from the intent's claims.
    resolution = ctx.instrument
    facts = resolution.facts
    if not resolution.ok or facts is None:
        reason = resolution.reason or R.UNKNOWN_INSTRUMENT
        check("instrument", False, resolution.detail, reason)
        return tuple(out)
    check(
        "instrument",
        True,
        f"{facts.symbol} {facts.sec_type} conId {facts.con_id}",
        reason=R.UNKNOWN_INSTRUMENT,
    )
    _grid_checks(intent, facts, check)

    # Quote: two-sided, fresh, and the price within the collar.
    quote = ctx.quote
    if not two_sided(quote) or quote is None:
        have = "no quote" if quote is None else f"bid {quote.bid} ask {quote.ask}"
        check(
            "quote",
            False,
            f"{have} for {order.instrument.symbol}: need a two-sided quote",
            R.NO_QUOTE,
        )
    else:
        qage = ctx.quote_age_s
        if qage is None:
            qage = (ctx.now - quote.ts).total_seconds()
        check(
            "quote",
            0 <= qage <= risk.quote_max_age_s,
            f"quote {qage:.1f}s old (max {risk.quote_max_age_s:g}s)",
            R.STALE_QUOTE,
        )
    ref = reference_price(intent, quote)
    if order.order_type is not OrderType.MARKET and ref is not None and two_sided(quote):
        assert quote is not None and quote.bid is not None and quote.ask is not None
        mid = (quote.bid + quote.ask) / 2
        off = abs(ref - mid) / mid * 100
        check(
            "price collar",
            off <= risk.price_collar_pct,
            f"{ref} is {off:.2f}% from mid {mid:.2f} (max {risk.price_collar_pct}%)",
            R.PRICE_COLLAR,
        )

    # Size.
    check(
        "order quantity",
        order.quantity <= risk.max_order_quantity,
        f"{order.quantity} (max {risk.max_order_quantity})",
        R.MAX_ORDER_QUANTITY,
    )
    mult = facts.multiplier
    if ref is None:
        check("notional", False, "cannot value the order: no reference price", R.NO_QUOTE)
    else:
        notional = order.quantity * ref * mult
        cap_notional = notional_cap(risk, order.instrument.sec_type)
        check(
            "notional",
            notional <= cap_notional,
            f"${notional:,.2f} (max ${cap_notional:,.2f})",
            R.MAX_NOTIONAL,
        )
    cap = risk.max_position
    if ctx.max_position_override is not None:
        cap = min(cap, ctx.max_position_override)
    projected = abs(ctx.position + order.side.sign * (order.quantity + ctx.working_same_side))
    check(
        "position limit",
        reducing or projected <= cap,
        f"position would be {projected} incl. working orders (max {cap})",
        R.POSITION_LIMIT if ctx.max_position_override is None else R.SCALE_TIER,
    )
    working = ctx.working_orders_same_side + 1
    check(
        "working orders",
        working <= risk.max_working_orders,
        f"{working} {order.side.value} orders working in {order.instrument.symbol} "
        f"(max {risk.max_working_orders})",
        R.MAX_WORKING_ORDERS,
    )

    # Risk per trade and the stop (entries only).
    if not reducing:
        if order.stop_loss is None:
            check(
                "stop",
                not risk.require_stop,
                "no stop_loss on an entry" if risk.require_stop else "no stop (allowed)",
                R.STOP_REQUIRED,
            )
        elif ref is not None:
            per_unit = abs(ref - order.stop_loss)
            ticks = per_unit / facts.min_tick
            check(
                "stop distance",
                ticks <= risk.max_stop_ticks,
                f"{ticks:.0f} ticks of {facts.min_tick} (max {risk.max_stop_ticks})",
                R.STOP_DISTANCE,
            )
            at_risk = per_unit * order.quantity * mult
            check(
                "risk per trade",
                at_risk <= risk.max_risk_per_trade,
                f"${at_risk:,.2f} at risk (max ${risk.max_risk_per_trade})",
                R.MAX_RISK_PER_TRADE,
            )
        check(
            "trades today",
            ctx.trades_today < risk.max_trades_per_day,
            f"{ctx.trades_today} of {risk.max_trades_per_day} used",
            R.TRADES_PER_DAY,
        )
        check(
            "daily loss",
            ctx.realized_pnl_today > -risk.daily_loss_limit,
            f"realized ${ctx.realized_pnl_today:,.2f} (limit -${risk.daily_loss_limit})",
            R.DAILY_LOSS_LIMIT,
        )
        check(
            "consecutive losses",
            ctx.consecutive_losses < risk.max_consecutive_losses,
            f"{ctx.consecutive_losses} in a row (lockout at {risk.max_consecutive_losses})",
            R.CONSECUTIVE_LOSSES,
        )

    # Duplicate of an order that just left.
    recent = ctx.recent_identical_s
    check(
        "duplicate order",
        recent is None,
        "no identical order recently"
        if recent is None
        else f"identical order sent {recent:.1f}s ago (window {risk.duplicate_window_s:g}s)",
        R.DUPLICATE_ORDER,
    )
    return tuple(out)


Check = Callable[[str, bool, str, DenialReason], None]


def _grid_checks(intent: Intent, facts: ContractFacts, check: Check) -> None:
    """Prices on the contract's tick grid, the quantity on its size increment."""
    order = intent.order
    prices = {
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "stop_loss": order.stop_loss,
        "take_profit": order.take_profit,
    }
    off = {name: p for name, p in prices.items() if p is not None and off_grid(p, facts.min_tick)}
    detail = "; ".join(
        f"{name} {p} is not on the {facts.min_tick} grid: nearest "
        + " or ".join(str(v) for v in nearest_on_grid(p, facts.min_tick))
        for name, p in off.items()
    )
    check("tick grid", not off, detail or f"prices on the {facts.min_tick} grid", R.PRICE_OFF_TICK)
    step = facts.size_increment
    qty = order.quantity
    if off_grid(qty, step):
        below, above = nearest_on_grid(qty, step)
        valid = " or ".join(str(v) for v in (below, above) if v > 0)
        detail = f"quantity {qty} is not a multiple of {step}: nearest {valid}"
        check("size increment", False, detail, R.QUANTITY_OFF_INCREMENT)
    else:
        check("size increment", True, f"{qty} in steps of {step}", R.QUANTITY_OFF_INCREMENT)


def _minutes(td: timedelta) -> str:
    total = int(td.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 60}m{total % 60:02d}s"


def notional_cap(risk: RiskConfig, sec_type: str) -> Decimal:
    """The notional cap for a security type. A future is judged by its risk to the stop and its
    margin (checked elsewhere), so its notional cap is its own, wider key: one MES is ~$28,500
    of index exposure on ~$1,500 of margin. Stocks keep `max_notional`."""
    return risk.max_notional_futures if sec_type == "FUT" else risk.max_notional
