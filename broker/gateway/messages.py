"""Encoders for every message the gateway writes, with TWS's exact field layouts (v176/v178)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from broker.gateway.codec import UNSET_DOUBLE, UNSET_INTEGER, Field, fmt, fmt_price
from broker.gateway.ids import Out
from broker.gateway.versions import Ver

Fields = list[Field]


@dataclass(frozen=True)
class WireContract:
    """A contract (stock, or one expiry of a future) as the gateway describes it on the wire."""

    con_id: int
    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    min_tick: Decimal = Decimal("0.01")
    long_name: str = ""
    expiry: str = ""
    """lastTradeDateOrContractMonth (YYYYMMDD) for futures."""
    multiplier: Decimal = Decimal(1)
    local_symbol: str = ""
    trading_class: str = ""

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"

    @property
    def wire_multiplier(self) -> str:
        """TWS leaves a stock's multiplier empty and writes a future's ("5")."""
        return fmt(self.multiplier) if self.is_future else ""

    @property
    def local(self) -> str:
        return self.local_symbol or self.symbol

    @property
    def klass(self) -> str:
        return self.trading_class or self.symbol

    def for_exec(self) -> Fields:
        """11 fields: conId, symbol, secType, expiry, strike, right, mult, exch, ccy, local, cls."""
        return [
            self.con_id, self.symbol, self.sec_type, self.expiry, "0.0", "",
            self.wire_multiplier, self.exchange, self.currency, self.local, self.klass,
        ]  # fmt: skip

    def for_portfolio(self) -> Fields:
        """11 fields with primaryExchange where the exchange would be (updatePortfolio)."""
        exchange = self.exchange if self.is_future else self.primary_exchange
        return [
            self.con_id, self.symbol, self.sec_type, self.expiry, "0.0", "",
            self.wire_multiplier, exchange, self.currency, self.local, self.klass,
        ]  # fmt: skip

    def for_order(self) -> Fields:
        """11 fields of openOrder/completedOrder (TWS writes `?` as the right there)."""
        return [
            self.con_id, self.symbol, self.sec_type, self.expiry, "0.0", "?",
            self.wire_multiplier, self.exchange, self.currency, self.local, self.klass,
        ]  # fmt: skip


@dataclass(frozen=True)
class WireOrder:
    """An order as openOrder/orderStatus/completedOrder describe it."""

    contract: WireContract
    order_id: int
    client_id: int
    perm_id: int
    parent_id: int
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    status: str
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal
    last_fill_price: Decimal
    outside_rth: bool = False
    transmit: bool = True


@dataclass(frozen=True)
class MarginState:
    """The margin block of an openOrder (real numbers only for whatIf answers)."""

    init_before: str = UNSET_DOUBLE
    maint_before: str = UNSET_DOUBLE
    equity_before: str = UNSET_DOUBLE
    init_change: str = UNSET_DOUBLE
    maint_change: str = UNSET_DOUBLE
    equity_change: str = UNSET_DOUBLE
    init_after: str = UNSET_DOUBLE
    maint_after: str = UNSET_DOUBLE
    equity_after: str = UNSET_DOUBLE
    commission: str = UNSET_DOUBLE
    min_commission: str = UNSET_DOUBLE
    max_commission: str = UNSET_DOUBLE
    commission_currency: str = ""
    warning: str = ""


def ib_time(ts: datetime) -> str:
    """`YYYYMMDD HH:MM:SS Zone`, the form TWS uses in execDetails."""
    return f"{ts:%Y%m%d %H:%M:%S} {ts.tzname() or 'UTC'}"


# --- connection ------------------------------------------------------------------------------


def handshake(server_version: int, now: datetime) -> Fields:
    """The unversioned 2-field reply to `API\\0` + version range."""
    return [server_version, f"{now:%Y%m%d %H:%M:%S} {now.tzname() or 'UTC'}"]


def managed_accounts(accounts: str) -> Fields:
    return [Out.MANAGED_ACCTS, 1, accounts]


def next_valid_id(order_id: int) -> Fields:
    return [Out.NEXT_VALID_ID, 1, order_id]


def error(
    req_id: int, code: int, message: str, server_version: int = Ver.PENDING_PRICE_REVISION
) -> Fields:
    """error (id 4), version 2; advancedOrderRejectJson from v166 (the default layout)."""
    f: Fields = [Out.ERR_MSG, 2, req_id, code, message]
    if server_version >= Ver.ADVANCED_ORDER_REJECT:
        f.append("")
    return f


def current_time(epoch: int) -> Fields:
    return [Out.CURRENT_TIME, 1, epoch]


# --- orders ----------------------------------------------------------------------------------


def order_status(o: WireOrder, server_version: int) -> Fields:
    """orderStatus (id 3): 12 fields from v131 (no version field, mktCapPrice last)."""
    capped = server_version >= Ver.MARKET_CAP_PRICE
    f: Fields = [Out.ORDER_STATUS] if capped else [Out.ORDER_STATUS, 6]
    f += [
        o.order_id, o.status, o.filled, o.remaining, fmt_price(o.avg_fill_price), o.perm_id,
        o.parent_id, fmt_price(o.last_fill_price), o.client_id, "",
    ]  # fmt: skip
    if capped:
        f.append("0.0")
    return f


def open_order(
    o: WireOrder, server_version: int, *, what_if: bool = False, margin: MarginState | None = None
) -> Fields:
    """openOrder (id 5): 136 fields at v176, 135 at v177+, matching TWS's layout; older
    versions lose each block below its gate (a version field 34 before v145)."""
    v = server_version
    m = margin or MarginState()
    c = o.contract
    f: Fields = [Out.OPEN_ORDER]
    if v < Ver.ORDER_CONTAINER:
        f.append(34)
    f += [o.order_id, *c.for_order()]
    f += [
        o.action, o.quantity, o.order_type, fmt_price(o.limit_price), fmt_price(o.aux_price),
        o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.client_id, o.perm_id,
        o.outside_rth, 0, "0", "", f"{o.perm_id}.0/{o.account}/{o.quantity}", "", "", "",
    ]  # fmt: skip
    if v < Ver.FA_PROFILE_DESUPPORT:
        f.append("")  # faProfile
    if v >= Ver.MODELS_SUPPORT:
        f.append("")  # modelCode
    f += [
        "", "", "", "", 0, "", -1,  # gtd, rule80A, pctOffset, firm, ssSlot, loc, exempt
        0, "", "", "", "", "",  # auctionStrategy, startingPrice, stockRefPrice, delta, ranges
        UNSET_INTEGER, 0, 0, 0, "", 3, 0, 0, "",  # display .. nbboPriceCap
        o.parent_id, 0, "", 0, "None", "",  # parentId, trigger, vol, volType, dnType, dnAux
    ]  # fmt: skip
    f += [0, "", "", "", 0, 0, "", ""]  # delta-neutral block, present because dnType is "None"
    f += [0, 0, "", "", "", "", ""]  # continuousUpdate .. basisPointsType, comboLegsDescrip
    f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    f += ["", "", ""]  # scale init/subs level size, scale price increment (unset)
    f += [""]  # hedgeType
    f += [0, "", "IB", 0, 0]  # optOutSmartRouting, clearingAcct, clearingIntent, notHeld, dnc
    f += [""]  # algoStrategy
    f += [0, what_if, o.status]  # solicited, whatIf, status
    if v >= Ver.WHAT_IF_EXT_FIELDS:
        f += [m.init_before, m.maint_before, m.equity_before]
        f += [m.init_change, m.maint_change, m.equity_change]
    f += [m.init_after, m.maint_after, m.equity_after, m.commission, m.min_commission]
    f += [m.max_commission, m.commission_currency, m.warning, 0, 0]  # .. randomize size/price
    if v >= Ver.PEGGED_TO_BENCHMARK:
        f += [0]  # conditions
        f += ["None", *[UNSET_DOUBLE] * 6, 0]  # adjusted order type .. adjustable trailing unit
    if v >= Ver.SOFT_DOLLAR_TIER:
        f += ["", "", ""]
    if v >= Ver.CASH_QTY:
        f.append(UNSET_DOUBLE)
    gated: list[tuple[Ver, Field]] = [
        (Ver.AUTO_PRICE_FOR_HEDGE, 0),  # dontUseAutoPriceForHedge
        (Ver.ORDER_CONTAINER, 0),  # isOmsContainer
        (Ver.D_PEG_ORDERS, 0),  # discretionaryUpToLimitPrice
        (Ver.PRICE_MGMT_ALGO, 0),  # usePriceMgmtAlgo
        (Ver.DURATION, ""),
        (Ver.POST_TO_ATS, ""),
        (Ver.AUTO_CANCEL_PARENT, 0),
    ]
    f += [value for gate, value in gated if v >= gate]
    if v >= Ver.PEGBEST_PEGMID_OFFSETS:
        f += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return f


def open_order_end() -> Fields:
    return [Out.OPEN_ORDER_END, 1]


def completed_order(o: WireOrder, server_version: int, completed: datetime) -> Fields:
    """completedOrder (id 101): no orderId/clientId; status plus completion time and reason."""
    c = o.contract
    f: Fields = [Out.COMPLETED_ORDER, *c.for_order()]
    f += [
        o.action, o.quantity, o.order_type, fmt_price(o.limit_price), fmt_price(o.aux_price),
        o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.perm_id, o.outside_rth, 0, "0",
        "", "", "", "",
    ]  # fmt: skip
    if server_version < Ver.FA_PROFILE_DESUPPORT:
        f.append("")
    f += [
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", UNSET_INTEGER, 0, 0, "", 3, 0, "", 0,
        "", "",
    ]  # fmt: skip
    f += [0, "", "", "", ""]  # continuousUpdate, refPriceType, trailStop, trailPct, comboDescr
    f += [0, 0, 0]
    f += ["", "", ""]
    f += [""]  # hedgeType
    f += ["", "IB", 0, 0]  # clearingAccount, clearingIntent, notHeld, dncPresent
    f += [""]  # algoStrategy
    f += [0, o.status, 0, 0]  # solicited, status, randomizeSize, randomizePrice
    f += [0]  # conditions
    f += [
        UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, 0, 0, "", o.filled, 0, 0, "", 0, 0,
        UNSET_INTEGER, f"{completed:%Y%m%d %H:%M:%S} {completed.tzname() or 'UTC'}",
        o.status,
    ]  # fmt: skip
    if server_version >= Ver.PEGBEST_PEGMID_OFFSETS:
        f += ["", "", "", "", ""]
    return f


def completed_orders_end() -> Fields:
    return [Out.COMPLETED_ORDERS_END]


# --- executions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireExecution:
    req_id: int
    order_id: int
    client_id: int
    perm_id: int
    contract: WireContract
    exec_id: str
    time: datetime
    account: str
    side: str
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str


def exec_details(e: WireExecution, server_version: int) -> Fields:
    """execDetails (id 11): a version field (10) before v136, modelCode from v103,
    lastLiquidity from v136, pendingPriceRevision from v178."""
    v = server_version
    f: Fields = [Out.EXECUTION_DATA]
    if v < Ver.LAST_LIQUIDITY:
        f.append(10)
    f += [e.req_id, e.order_id, *e.contract.for_exec()]
    venue = "CME" if e.contract.is_future else "ISLAND"
    f += [
        e.exec_id, ib_time(e.time), e.account, venue, e.side, e.shares, fmt_price(e.price),
        e.perm_id, e.client_id, 0, e.cum_qty, fmt_price(e.avg_price), e.order_ref, "", "",
    ]  # fmt: skip
    if v >= Ver.MODELS_SUPPORT:
        f.append("")  # modelCode
    if v >= Ver.LAST_LIQUIDITY:
        f.append(2)  # lastLiquidity: removed
    if v >= Ver.PENDING_PRICE_REVISION:
        f.append(0)
    return f


def exec_details_end(req_id: int) -> Fields:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(
    exec_id: str, commission: Decimal, currency: str, realized: Decimal | None
) -> Fields:
    realized_text = fmt_price(realized) if realized is not None else UNSET_DOUBLE
    return [
        Out.COMMISSION_REPORT, 1, exec_id, fmt_price(commission), currency, realized_text,
        UNSET_DOUBLE, "",
    ]  # fmt: skip


# --- positions and account -------------------------------------------------------------------


def position(account: str, c: WireContract, quantity: Decimal, avg_cost: Decimal) -> Fields:
    return [Out.POSITION_DATA, 3, account, *c.for_exec(), quantity, fmt_price(avg_cost)]


def position_end() -> Fields:
    return [Out.POSITION_END, 1]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    c: WireContract,
    quantity: Decimal,
    market_price: Decimal,
    market_value: Decimal,
    avg_cost: Decimal,
    unrealized: Decimal,
    realized: Decimal,
    account: str,
) -> Fields:
    return [
        Out.PORTFOLIO_VALUE, 8, *c.for_portfolio(), quantity, fmt_price(market_price),
        fmt_price(market_value), fmt_price(avg_cost), fmt_price(unrealized),
        fmt_price(realized), account,
    ]  # fmt: skip


def account_time(ts: datetime) -> Fields:
    return [Out.ACCT_UPDATE_TIME, 1, f"{ts:%H:%M}"]


def account_download_end(account: str) -> Fields:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(
    req_id: int, account: str, key: str, value: str, currency: str, model: str = ""
) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]
