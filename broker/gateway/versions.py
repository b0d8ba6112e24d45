"""Server versions: what the gateway negotiates, and where each message layout changes.

The gate names are IB's own (`MIN_SERVER_VER_<NAME>` in IB's API sources); a field that appears
at a gate is written only to clients served at that version or above.
"""

from __future__ import annotations

from enum import IntEnum

from broker.gateway.codec import ProtocolError

MIN_CLIENT_VERSION = 100
"""The oldest layout the gateway speaks (IB's "v100+" framing starts here)."""


class Ver(IntEnum):
    """Layout gates between v100 and v178."""

    PEGGED_TO_BENCHMARK = 102
    MODELS_SUPPORT = 103
    SOFT_DOLLAR_TIER = 106
    PAST_LIMIT = 109
    MD_SIZE_MULTIPLIER = 110
    CASH_QTY = 111
    AGG_GROUP = 121
    UNDERLYING_INFO = 122
    SYNT_REALTIME_BARS = 124
    MARKET_RULES = 126
    MARKET_CAP_PRICE = 131
    REAL_EXPIRATION_DATE = 134
    LAST_LIQUIDITY = 136
    AUTO_PRICE_FOR_HEDGE = 141
    WHAT_IF_EXT_FIELDS = 142
    ORDER_CONTAINER = 145
    D_PEG_ORDERS = 148
    PRICE_MGMT_ALGO = 151
    STOCK_TYPE = 152
    DURATION = 158
    POST_TO_ATS = 160
    AUTO_CANCEL_PARENT = 162
    FRACTIONAL_SIZE_SUPPORT = 163
    SIZE_RULES = 164
    ADVANCED_ORDER_REJECT = 166
    PEGBEST_PEGMID_OFFSETS = 170
    FA_PROFILE_DESUPPORT = 177
    PENDING_PRICE_REVISION = 178


def negotiate(low: int, high: int, server_max: int) -> int:
    """The highest version both sides speak, as TWS answers the client's `v{low}..{high}`."""
    if low > high:
        raise ProtocolError(f"bad version range v{low}..{high}")
    version = min(high, server_max)
    if version < max(low, MIN_CLIENT_VERSION):
        raise ProtocolError(
            f"client speaks v{low}..{high}, the gateway v{MIN_CLIENT_VERSION}..{server_max}"
        )
    return version
