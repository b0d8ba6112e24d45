"""What a strategy proposes: the instrument, the order it wants, and the evidence behind it."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import (
    BoundedDecimal,
    Frozen,
    Identifier,
    NonNegativeDecimal,
    PositiveDecimal,
    Symbol,
)
from contracts.enums import OrderType, Regime, Side, TimeInForce


class Instrument(Frozen):
    """A tradable contract, described the way both the engine and IB need it.

    From an intent, this names a contract (symbol + sec type (+ exchange, expiry), or con_id)
    and may state facts about it; the engine's instrument master checks every stated fact
    against the broker's and fills in the rest. `tick_size` and `multiplier` are None when not
    stated.
    """

    symbol: Symbol
    sec_type: str = Field(default="STK", pattern=r"^(STK|FUT|OPT|CASH|IND|CFD)$")
    exchange: str = Field(default="SMART", max_length=16)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    primary_exchange: str = Field(default="", max_length=16)
    tick_size: PositiveDecimal | None = None
    multiplier: PositiveDecimal | None = None
    con_id: int | None = Field(default=None, gt=0, lt=2**31)
    expiry: str = Field(default="", pattern=r"^([0-9]{6}|[0-9]{8})?$")
    """Futures: IB lastTradeDateOrContractMonth (YYYYMM or YYYYMMDD); empty for stocks."""
    trading_class: str = Field(default="", max_length=16)


class CheckResult(Frozen):
    """One red check a strategy ran before proposing (e.g. 'spread ok', 'no halt')."""

    name: str = Field(min_length=1, max_length=64)
    passed: bool
    detail: str = ""


class PositionSizing(Frozen):
    """How the quantity was derived, so the trader can redo the arithmetic."""

    account_equity: NonNegativeDecimal
    risk_fraction: NonNegativeDecimal
    risk_budget: NonNegativeDecimal
    per_share_risk: NonNegativeDecimal
    computed_quantity: NonNegativeDecimal
    formula: str = "risk_budget / per_share_risk"


class Evidence(Frozen):
    """Why the strategy wants this trade; hashed and bound into the approval token."""

    setup_quality: float = Field(ge=0, le=100)
    quality_breakdown: dict[str, float] = Field(default_factory=dict)
    htf_alignment: bool
    ltf_alignment: bool
    risk_parameters: dict[str, BoundedDecimal] = Field(default_factory=dict)
    red_checks: tuple[CheckResult, ...] = ()
    state_freshness_s: float = Field(ge=0, default=0.0)
    sizing: PositionSizing | None = None
    active_kill_flags: tuple[str, ...] = ()
    notes: str = Field(default="", max_length=2000)


class ExecutionStyle(Frozen):
    """How an approved order is worked (seed 003). The approval covers the parent: the total
    quantity and, for the patient styles, `worst_price`; every child stays inside both."""

    kind: Literal["immediate", "limit_patience", "twap"] = "immediate"
    reprice_every_s: float = Field(default=10.0, ge=1.0, le=300.0)
    """limit_patience: seconds between reprices toward the touch."""
    reprice_ticks: int = Field(default=1, ge=1, le=20)
    """limit_patience: at most this many ticks per reprice."""
    max_reprices: int = Field(default=6, ge=0, le=100)
    on_timeout: Literal["cancel", "cross"] = "cancel"
    """limit_patience: after the last reprice, cancel the rest or cross at the touch (inside
    `worst_price`)."""
    worst_price: PositiveDecimal | None = None
    """The price no child may pass (required for the patient styles)."""
    window_s: float = Field(default=300.0, ge=10.0, le=6 * 3600.0)
    """twap: the window the children are spread over."""
    slices: int = Field(default=5, ge=2, le=50)
    """twap: how many children."""

    @model_validator(mode="after")
    def _bounded(self) -> ExecutionStyle:
        if self.kind != "immediate" and self.worst_price is None:
            raise ValueError(f"execution style {self.kind} needs a worst_price")
        return self


class OrderParams(Frozen):
    """The exact order an approval covers; any change needs a new approval."""

    instrument: Instrument
    side: Side
    quantity: PositiveDecimal
    order_type: OrderType
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    stop_loss: PositiveDecimal | None = None
    take_profit: PositiveDecimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    execution: ExecutionStyle = Field(default_factory=ExecutionStyle)

    @model_validator(mode="after")
    def _prices_fit_type(self) -> OrderParams:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit and self.limit_price is None:
            raise ValueError(f"limit_price is required for a {self.order_type} order")
        if not needs_limit and self.limit_price is not None:
            raise ValueError(f"limit_price is not allowed on a {self.order_type} order")
        if needs_stop and self.stop_price is None:
            raise ValueError(f"stop_price is required for a {self.order_type} order")
        if not needs_stop and self.stop_price is not None:
            raise ValueError(f"stop_price is not allowed on a {self.order_type} order")
        style = self.execution
        if style.kind != "immediate":
            if self.order_type is not OrderType.LIMIT:
                raise ValueError(f"execution style {style.kind} works LIMIT orders only")
            if self.stop_loss is not None or self.take_profit is not None:
                raise ValueError(
                    f"execution style {style.kind} cannot carry bracket exits: use immediate, "
                    "or place the stop once filled"
                )
            assert style.worst_price is not None and self.limit_price is not None
            past = (
                self.limit_price > style.worst_price
                if self.side is Side.BUY
                else self.limit_price < style.worst_price
            )
            if past:
                raise ValueError(
                    f"limit_price {self.limit_price} is already past worst_price "
                    f"{style.worst_price}"
                )
        ref = self.limit_price or self.stop_price
        if ref is not None and self.stop_loss is not None:
            wrong_side = self.stop_loss >= ref if self.side is Side.BUY else self.stop_loss <= ref
            if wrong_side:
                raise ValueError("stop_loss is on the wrong side of the entry price")
        if ref is not None and self.take_profit is not None:
            wrong_side = (
                self.take_profit <= ref if self.side is Side.BUY else self.take_profit >= ref
            )
            if wrong_side:
                raise ValueError("take_profit is on the wrong side of the entry price")
        return self

    @cached_property
    def cached_digest(self) -> str:
        return canonical_hash(self.model_dump(mode="json"))

    def digest(self) -> str:
        """A stable hash of the order's parameters (computed once)."""
        return self.cached_digest


class Intent(Frozen):
    """A proposed trade. It becomes an order only through an approval token."""

    intent_id: Identifier
    strategy: str = Field(min_length=1, max_length=64)
    order: OrderParams
    state_hash: str = Field(min_length=1, max_length=128)
    state_ts: AwareDatetime
    regime: Regime = Regime.NORMAL
    evidence: Evidence
    reduces_risk: bool = False

    def evidence_hash(self) -> str:
        """Hash of everything the trader saw: evidence, state anchor and regime (once)."""
        return self.cached_evidence_hash

    @cached_property
    def cached_evidence_hash(self) -> str:
        return canonical_hash(
            {
                "evidence": self.evidence.model_dump(mode="json"),
                "state_hash": self.state_hash,
                "state_ts": self.state_ts.isoformat(),
                "regime": self.regime.value,
            }
        )


def canonical_hash(payload: Any) -> str:
    """SHA-256 over canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
