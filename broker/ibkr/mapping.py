"""Pure mapping tables: IB status strings, error codes, sides and account tags to contracts.

Nothing here imports ib_async: every table maps plain strings and ints onto `contracts`
enums and a small `ErrorCategory` the adapter dispatches on. Warnings (farm status, 10349,
2100-2199) never map to anything that changes order state.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from contracts.enums import BrokerOrderStatus, Side

# --- order status ----------------------------------------------------------------------

IB_ORDER_STATUS: Final[dict[str, BrokerOrderStatus | None]] = {
    # sent by the client, not yet acknowledged by TWS
    "PendingSubmit": BrokerOrderStatus.PENDING_SUBMIT,
    "ApiPending": BrokerOrderStatus.PENDING_SUBMIT,
    # acknowledged and working (PreSubmitted: held by IB until the trigger/route)
    "PreSubmitted": BrokerOrderStatus.WORKING,
    "Submitted": BrokerOrderStatus.WORKING,
    "ApiUpdate": BrokerOrderStatus.WORKING,
    "PendingCancel": BrokerOrderStatus.PENDING_CANCEL,
    # final
    "Cancelled": BrokerOrderStatus.CANCELLED,
    "ApiCancelled": BrokerOrderStatus.CANCELLED,
    "Filled": BrokerOrderStatus.FILLED,
    # "accepted but inactive" (rejected, or held outside hours): never final on its own;
    # the adapter confirms with the broker before telling the engine anything.
    "Inactive": BrokerOrderStatus.REJECTED,
    # ib_async-local state after a *warning* on a live order: carries no broker state
    "ValidationError": None,
}
"""IB order status string -> engine status; None means "no state information"."""

TERMINAL_BROKER_STATUSES: Final = frozenset(
    {BrokerOrderStatus.CANCELLED, BrokerOrderStatus.FILLED, BrokerOrderStatus.REJECTED}
)


def order_status(ib_status: str) -> BrokerOrderStatus | None:
    """Map an IB order status; unknown or local-only strings give None."""
    return IB_ORDER_STATUS.get(ib_status)


# --- sides --------------------------------------------------------------------------------

IB_SIDE: Final[dict[str, Side]] = {
    "BUY": Side.BUY,
    "BOT": Side.BUY,  # execution side
    "SELL": Side.SELL,
    "SLD": Side.SELL,  # execution side
    "SSHORT": Side.SELL,
}


def side(ib_side: str) -> Side:
    """Map an order action or execution side ('BOT'/'SLD'); raises ValueError if unknown."""
    try:
        return IB_SIDE[ib_side.upper()]
    except KeyError:
        raise ValueError(f"unknown IB side {ib_side!r}") from None


# --- error codes ----------------------------------------------------------------------------


class ErrorCategory(StrEnum):
    """What an IB error code means for the adapter."""

    CONNECTIVITY_LOST = "CONNECTIVITY_LOST"
    """1100: TWS lost its link to IB. Block new orders; working orders are unknown."""
    CONNECTIVITY_RESTORED_DATA_LOST = "CONNECTIVITY_RESTORED_DATA_LOST"
    """1101: link back, subscriptions lost: resubscribe and resync."""
    CONNECTIVITY_RESTORED = "CONNECTIVITY_RESTORED"
    """1102: link back, data kept: resync anyway (fills drop in the gap)."""
    FARM_DOWN = "FARM_DOWN"
    FARM_OK = "FARM_OK"
    PACING = "PACING"
    ORDER_REJECTED = "ORDER_REJECTED"
    """Final refusal of a new order; the reason is kept verbatim."""
    CANCEL_REJECTED = "CANCEL_REJECTED"
    """The cancel could not be done: the order may have filled (check executions)."""
    MODIFY_REJECTED = "MODIFY_REJECTED"
    """A modify failed: the original order may still be live."""
    CANCELLED = "CANCELLED"
    """202: the broker cancelled the order (late fills may still arrive)."""
    PRECAUTIONARY = "PRECAUTIONARY"
    """TWS precautionary limits: the order is held back; confirm with the broker."""
    CLIENT_ID_IN_USE = "CLIENT_ID_IN_USE"
    NOT_CONNECTED = "NOT_CONNECTED"
    NOTICE = "NOTICE"
    """Anything else: shown to the trader, never changes order state."""


_FIXED: Final[dict[int, ErrorCategory]] = {
    # connectivity between TWS and IB
    1100: ErrorCategory.CONNECTIVITY_LOST,
    1101: ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST,
    1102: ErrorCategory.CONNECTIVITY_RESTORED,
    1300: ErrorCategory.CONNECTIVITY_LOST,  # socket port reset: TWS drops the connection
    # data farms: a data-health signal only
    2103: ErrorCategory.FARM_DOWN,  # market data farm connection is broken
    2105: ErrorCategory.FARM_DOWN,  # HMDS data farm connection is broken
    2157: ErrorCategory.FARM_DOWN,  # sec-def data farm connection is broken
    2104: ErrorCategory.FARM_OK,  # market data farm connection is OK
    2106: ErrorCategory.FARM_OK,  # HMDS data farm connection is OK
    2107: ErrorCategory.FARM_OK,  # HMDS data farm inactive but available on demand
    2108: ErrorCategory.FARM_OK,  # market data farm inactive but available on demand
    2158: ErrorCategory.FARM_OK,  # sec-def data farm connection is OK
    # pacing
    100: ErrorCategory.PACING,  # max rate of messages per second exceeded
    # new order refused (final)
    103: ErrorCategory.ORDER_REJECTED,  # duplicate order id
    200: ErrorCategory.ORDER_REJECTED,  # no security definition found (for an order)
    201: ErrorCategory.ORDER_REJECTED,  # order rejected - reason: ...
    203: ErrorCategory.ORDER_REJECTED,  # security not available or allowed for this account
    382: ErrorCategory.ORDER_REJECTED,  # size exceeds the limit
    383: ErrorCategory.ORDER_REJECTED,  # size exceeds the max for this exchange
    434: ErrorCategory.ORDER_REJECTED,  # the order size cannot be zero
    # cancel could not be done
    161: ErrorCategory.CANCEL_REJECTED,  # cancel attempted when not in a cancellable state
    10147: ErrorCategory.CANCEL_REJECTED,  # orderId to cancel not found
    10148: ErrorCategory.CANCEL_REJECTED,  # orderId cannot be cancelled, state: ...
    # modify failed: the original may be live
    104: ErrorCategory.MODIFY_REJECTED,  # cannot modify a filled order
    105: ErrorCategory.MODIFY_REJECTED,  # order being modified does not match original
    135: ErrorCategory.MODIFY_REJECTED,  # can't find order with id (modify)
    # broker cancelled
    202: ErrorCategory.CANCELLED,
    # TWS precautionary settings
    109: ErrorCategory.PRECAUTIONARY,  # price out of the percentage range: not transmitted
    451: ErrorCategory.PRECAUTIONARY,  # order value exceeds the precautionary limit
    # session
    326: ErrorCategory.CLIENT_ID_IN_USE,
    502: ErrorCategory.NOT_CONNECTED,  # couldn't connect to TWS
    504: ErrorCategory.NOT_CONNECTED,  # not connected
    # plain notices, listed so nobody "fixes" them into order-state changes
    10349: ErrorCategory.NOTICE,  # order TIF was set to DAY based on order preset
    399: ErrorCategory.NOTICE,  # order message (e.g. held until the open)
    404: ErrorCategory.NOTICE,  # shares not available for short sale: order held
    10167: ErrorCategory.NOTICE,  # delayed market data displayed
    354: ErrorCategory.NOTICE,  # market data not subscribed
    162: ErrorCategory.NOTICE,  # historical data request failed: answers a bars request only
    2109: ErrorCategory.NOTICE,  # outside regular trading hours attribute ignored
    2119: ErrorCategory.NOTICE,  # market data farm is connecting
}

_NEW_ORDER_OR_MODIFY: Final[frozenset[int]] = frozenset(
    {
        110,  # price does not conform to the minimum price variation
        321,  # error validating request (a new order is refused; a modify leaves it live)
    }
)


def classify_error(code: int, *, order_acknowledged: bool = False) -> ErrorCategory:
    """The category of an IB error code.

    Args:
        code: the IB error code.
        order_acknowledged: the error refers to an order the broker already acknowledged
            (so 110/321 are a failed modify, not a refused new order).
    """
    if code in _NEW_ORDER_OR_MODIFY:
        return ErrorCategory.MODIFY_REJECTED if order_acknowledged else ErrorCategory.ORDER_REJECTED
    category = _FIXED.get(code)
    if category is not None:
        return category
    return ErrorCategory.NOTICE


def is_known(code: int) -> bool:
    """True if the code is in the table (unknown codes are notices, but worth a re-check)."""
    return code in _FIXED or code in _NEW_ORDER_OR_MODIFY


def is_warning(code: int) -> bool:
    """True for codes that never affect order state (farm status, notices, 2100-2199)."""
    return 2100 <= code < 2200 or (
        is_known(code)
        and classify_error(code)
        in (ErrorCategory.FARM_OK, ErrorCategory.FARM_DOWN, ErrorCategory.NOTICE)
    )


ORDER_STATE_CATEGORIES: Final = frozenset(
    {
        ErrorCategory.ORDER_REJECTED,
        ErrorCategory.CANCEL_REJECTED,
        ErrorCategory.MODIFY_REJECTED,
        ErrorCategory.CANCELLED,
        ErrorCategory.PRECAUTIONARY,
    }
)
"""Categories that are about one order (the error's reqId is its order id)."""


READ_ONLY_MARKER: Final = "read-only mode"
"""TWS's refusal text with "Read-Only API" set: '...cause - The API interface is currently in
Read-Only mode.' (error 321, answering placeOrder, cancelOrder or reqGlobalCancel)."""


def is_read_only_refusal(message: str) -> bool:
    """True if TWS refused a request because the API session is read-only."""
    return READ_ONLY_MARKER in message.lower()


def foreign_order_ref(client_id: int, perm_id: int, order_ref: str) -> str:
    """The orderRef shown for an order deskgate did not place (another API client or TWS).

    Never parseable as deskgate's own (`parse_order_ref`), whatever the other client wrote:
    a foreign order can never be taken for one of deskgate's intents.
    """
    origin = f"client {client_id}" if client_id else "TWS"
    return f"{origin} perm {perm_id}" + (f" ref {order_ref}" if order_ref else "")


def farm_name(message: str) -> str:
    """The farm named in a farm-status message ('...connection is OK:usfarm.nj')."""
    _, sep, tail = message.rpartition(":")
    name = tail.strip() if sep else ""
    return name or "unknown"


# --- account values -------------------------------------------------------------------------

ACCOUNT_TAGS: Final[dict[str, str]] = {
    "NetLiquidation": "net_liquidation",
    "AvailableFunds": "available_funds",
    "BuyingPower": "buying_power",
    "TotalCashValue": "cash",
    "InitMarginReq": "init_margin",
    "MaintMarginReq": "maint_margin",
    "Cushion": "cushion",
}
"""IB account tag -> AccountSnapshot field; values come in the base currency (or none)."""

PNL_TAGS: Final[dict[str, str]] = {
    "RealizedPnL": "realized_pnl",
    "UnrealizedPnL": "unrealized_pnl",
}
"""Tags reported per currency; the row with currency 'BASE' is the account total."""

BASE_CURRENCY_TAG: Final = "NetLiquidation"
"""The currency of this tag's row is the account's base currency."""

ACCOUNT_TYPE_TAG: Final = "AccountType"
PERMISSION_TAG_PREFIXES: Final = ("TradingType-", "SegmentTitle-", "DayTradesRemaining")
"""Tags that reveal what the account may trade, as far as the API shows it."""


def account_field(tag: str, currency: str) -> str | None:
    """The AccountSnapshot field an account value row feeds, or None to ignore the row."""
    if tag in PNL_TAGS:
        return PNL_TAGS[tag] if currency == "BASE" else None
    if tag in ACCOUNT_TAGS and currency != "BASE":
        return ACCOUNT_TAGS[tag]
    return None


def to_decimal(value: str | float | int | Decimal | None) -> Decimal | None:
    """Parse an IB number; unset sentinels (1.797e308, 2**31-1), NaN and inf give None."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e300") or number == 2**31 - 1:
        return None
    return number


def to_price(value: float | Decimal | None) -> Decimal | None:
    """A quote or fill price: positive and set, else None (IB sends -1 for 'no price')."""
    number = to_decimal(value)
    if number is None or number <= 0:
        return None
    return number


BAR_UNIT_SECONDS: Final[dict[str, int]] = {
    "sec": 1,
    "secs": 1,
    "min": 60,
    "mins": 60,
    "hour": 3_600,
    "hours": 3_600,
    "day": 86_400,
    "week": 604_800,
    "month": 2_592_000,  # 30 days: only the bar's nominal length
}
"""IB bar size unit ('1 min', '5 secs', '1 day') -> seconds."""


def bar_seconds(bar_size: str) -> int:
    """Seconds in an IB bar size ('5 secs' -> 5); raises ValueError if unknown."""
    count, _, unit = bar_size.partition(" ")
    if not count.isdigit() or unit not in BAR_UNIT_SECONDS:
        raise ValueError(f"unknown IB bar size {bar_size!r}")
    return int(count) * BAR_UNIT_SECONDS[unit]


def ib_date(value: str) -> date | None:
    """An IB date 'YYYYMMDD' (or 'YYYYMMDD hh:mm...'); a contract month 'YYYYMM' gives None."""
    text = value.strip()[:8]
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


# --- ports ------------------------------------------------------------------------------------

"""IB Gateway paper 4002, TWS paper 7497."""
LIVE_PORTS: Final = frozenset({4001, 7496})
"""IB Gateway live 4001, TWS live 7496."""
PAPER_ACCOUNT_PREFIX: Final = "DU"
