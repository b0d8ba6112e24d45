"""Every enumeration the layers share: sides, order types, states, modes, reasons."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


class OrderLeg(StrEnum):
    """Which part of an intent's order a broker order is."""

    ENTRY = "ENTRY"
    STOP_LOSS = "SL"
    TAKE_PROFIT = "TP"
    FLATTEN = "FLAT"


class LifecycleState(StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    SUBMITTED = "SUBMITTED"
    STALLED = "STALLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    """A cancel was sent and the broker has not answered it yet: the order may still fill."""
    FILLED = "FILLED"
    MANAGED = "MANAGED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_working(self) -> bool:
        """An order is (or may be) live at the broker in this state."""
        return self in (
            LifecycleState.SUBMITTED,
            LifecycleState.STALLED,
            LifecycleState.PENDING_CANCEL,
            LifecycleState.MANAGED,
        )


TERMINAL_STATES = frozenset(
    {
        LifecycleState.CLOSED,
        LifecycleState.CANCELLED,
        LifecycleState.REJECTED,
        LifecycleState.EXPIRED,
    }
)


class Trigger(StrEnum):
    """What moves an intent through the lifecycle machine."""

    APPROVE = "APPROVE"
    DENY = "DENY"
    TRADER_REJECT = "TRADER_REJECT"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    SUBMIT = "SUBMIT"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    ACK = "ACK"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILL = "FILL"
    BROKER_REJECT = "BROKER_REJECT"
    CANCEL_CONFIRMED = "CANCEL_CONFIRMED"
    CANCEL_SENT = "CANCEL_SENT"
    CANCEL_REJECTED = "CANCEL_REJECTED"
    ACK_TIMEOUT = "ACK_TIMEOUT"
    EXITS_WORKING = "EXITS_WORKING"
    EXIT_FILLED = "EXIT_FILLED"


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Mode(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


DEFAULT_MODE = Mode.SIM
"""The mode of a config that names none (`Config.mode`, and the console's first frame)."""


class ChaosMode(StrEnum):
    INSTANT = "INSTANT"
    REALISTIC = "REALISTIC"
    ADVERSARIAL = "ADVERSARIAL"


class Regime(StrEnum):
    NORMAL = "NORMAL"
    HIGH_VOLATILITY = "HIGH_VOLATILITY"
    NEAR_NEWS = "NEAR_NEWS"


class BrokerOrderStatus(StrEnum):
    """Broker order status in the engine's words (adapters map venue strings onto these)."""

    PENDING_SUBMIT = "PENDING_SUBMIT"
    WORKING = "WORKING"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELLED = "CANCELLED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"


class DenialReason(StrEnum):
    """Reason codes for every refusal the engine makes before an order leaves."""

    MAX_RISK_PER_TRADE = "MAX_RISK_PER_TRADE"
    STOP_DISTANCE = "STOP_DISTANCE"
    STOP_REQUIRED = "STOP_REQUIRED"
    TRADES_PER_DAY = "TRADES_PER_DAY"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    CONSECUTIVE_LOSSES = "CONSECUTIVE_LOSSES"
    MAX_ORDER_QUANTITY = "MAX_ORDER_QUANTITY"
    MAX_NOTIONAL = "MAX_NOTIONAL"
    NO_QUOTE = "NO_QUOTE"
    STALE_QUOTE = "STALE_QUOTE"
    PRICE_COLLAR = "PRICE_COLLAR"
    POSITION_LIMIT = "POSITION_LIMIT"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    STATE_CONFLICT = "STATE_CONFLICT"
    KILL_FLAG = "KILL_FLAG"
    HALTED = "HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    DISCONNECTED = "DISCONNECTED"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    SCALE_TIER = "SCALE_TIER"
    STRATEGY_NOT_LIVE = "STRATEGY_NOT_LIVE"
    ORDER_ENTRY_REFUSED = "ORDER_ENTRY_REFUSED"
    """The broker refuses every new order of this session (TWS read-only API)."""
    MARKET_CLOSED = "MARKET_CLOSED"
    RESET_WINDOW = "RESET_WINDOW"
    """IB's nightly server reset: nothing is sent inside it."""
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    """The broker does not know the contract (or could not be asked)."""
    AMBIGUOUS_INSTRUMENT = "AMBIGUOUS_INSTRUMENT"
    """Several contracts match: the intent must name the expiry, exchange or conId."""
    INSTRUMENT_MISMATCH = "INSTRUMENT_MISMATCH"
    """A contract fact the intent states disagrees with the broker's."""
    PRICE_OFF_TICK = "PRICE_OFF_TICK"
    QUANTITY_OFF_INCREMENT = "QUANTITY_OFF_INCREMENT"
    MAX_WORKING_ORDERS = "MAX_WORKING_ORDERS"
    CONTRACT_EXPIRED = "CONTRACT_EXPIRED"
    """The future's last trade date has passed."""
    CONTRACT_ROLLING = "CONTRACT_ROLLING"
    """The future is inside its roll window (`[futures] roll_days_before_expiry`): entries go
    to the next expiry; exits still pass."""


class TokenRejection(StrEnum):
    UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
    ALREADY_USED = "ALREADY_USED"
    EXPIRED = "EXPIRED"
    WRONG_INTENT = "WRONG_INTENT"
    EVIDENCE_CHANGED = "EVIDENCE_CHANGED"
    PARAMS_CHANGED = "PARAMS_CHANGED"
    VOID_AFTER_RESTART = "VOID_AFTER_RESTART"
    NO_TOKEN = "NO_TOKEN"
    VOID_KILL = "VOID_KILL"
    """Voided: the kill switch was thrown while the intent waited."""
    VOID_REJECTED = "VOID_REJECTED"
    """Voided: the trader rejected the intent."""


class AlertLevel(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class DriftType(StrEnum):
    POSITION_SIZE = "POSITION_SIZE"
    ORDER_MISSING_AT_BROKER = "ORDER_MISSING_AT_BROKER"
    EXIT_MISSING_AT_BROKER = "EXIT_MISSING_AT_BROKER"
    """A managed position's bracket stop or target is no longer working at the broker."""
    FOREIGN_ORDER = "FOREIGN_ORDER"
    FILL_MISMATCH = "FILL_MISMATCH"
    STATUS_MISMATCH = "STATUS_MISMATCH"
    PNL_MISMATCH = "PNL_MISMATCH"


class DriftSeverity(StrEnum):
    LOW = "LOW"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class DriftResolution(StrEnum):
    ENGINE_CORRECTED = "ENGINE_CORRECTED"
    """The engine was wrong: it adopts the broker's state."""
    BROKER_CORRECTED = "BROKER_CORRECTED"
    """The trader fixed the broker side; the next reconciliation must agree."""
    ACKNOWLEDGED = "ACKNOWLEDGED"
    """A known, accepted difference: not raised again while it stays the same."""
