"""Scale-up tiers: the capital fraction and position cap in force, from the go-live date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from contracts.config import ScaleConfig


@dataclass(frozen=True)
class TierStatus:
    """The tier in force on a day, with the money it allows."""

    week: int
    """Week since go-live (1 = the first seven days; 0 = before the go-live date)."""
    index: int
    """Position of the tier in the config (0 = first)."""
    from_week: int
    fraction: Decimal
    capital: Decimal
    """Capital allowed in this tier: fraction x configured capital."""
    max_position_value: Decimal
    """The largest position, in account currency: max_position_fraction_of_tier x capital."""
    go_live: date

    @property
    def label(self) -> str:
        pct = (self.fraction * 100).normalize()
        return (
            f"tier {self.index + 1}: week {max(self.week, 1)}, {pct:f}% capital "
            f"(${self.capital:,.0f}), max position ${self.max_position_value:,.0f}"
        )


def go_live_date(scale: ScaleConfig) -> date | None:
    """The configured go-live date, or None when not live yet (ValueError if malformed)."""
    if not scale.go_live_date:
        return None
    try:
        return date.fromisoformat(scale.go_live_date)
    except ValueError:
        raise ValueError(f"scale.go_live_date {scale.go_live_date!r} is not an ISO date") from None


def tier_for(scale: ScaleConfig, today: date) -> TierStatus | None:
    """The tier in force on `today`; None when no go-live date is configured.

    Before the go-live date the first (tightest) tier applies: the caps never loosen early.
    """
    start = go_live_date(scale)
    if start is None or not scale.tiers:
        return None
    days = (today - start).days
    week = days // 7 + 1 if days >= 0 else 0
    tiers = sorted(enumerate(scale.tiers), key=lambda t: t[1].from_week)
    index, tier = tiers[0]
    for i, t in tiers:
        if t.from_week <= max(week, 1):
            index, tier = i, t
    capital = scale.capital * tier.fraction
    return TierStatus(
        week=week,
        index=index,
        from_week=tier.from_week,
        fraction=tier.fraction,
        capital=capital,
        max_position_value=capital * scale.max_position_fraction_of_tier,
        go_live=start,
    )


def position_cap(tier: TierStatus, price: Decimal | None, multiplier: Decimal) -> Decimal:
    """The tier's position cap in units at `price` (0 when the price is unknown: nothing fits)."""
    if price is None or price <= 0:
        return Decimal(0)
    return (tier.max_position_value / (price * multiplier)).to_integral_value(ROUND_DOWN)
