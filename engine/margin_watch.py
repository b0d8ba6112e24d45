"""Margin warnings from the account snapshot: one alert per fall below the cushion threshold."""

from __future__ import annotations

from decimal import Decimal

from contracts.broker import AccountUpdated, BrokerEvent
from contracts.enums import AlertLevel
from engine.recorder import EventRecorder

MARGIN_WARNING = "MARGIN_WARNING"


class MarginWatch:
    """Raises MARGIN_WARNING when the cushion (excess liquidity / NAV) falls below the threshold;
    re-armed once it is back above it, so a hovering cushion does not ring on every update."""

    def __init__(self, recorder: EventRecorder, threshold_pct: Decimal) -> None:
        self._recorder = recorder
        self._threshold = threshold_pct / 100
        self.warned = False

    def observe(self, event: BrokerEvent) -> None:
        if not isinstance(event, AccountUpdated) or event.account.cushion is None:
            return
        cushion = event.account.cushion
        if cushion >= self._threshold:
            self.warned = False
            return
        if not self.warned:
            self.warned = True
            self._recorder.alert(
                AlertLevel.CRITICAL,
                MARGIN_WARNING,
                f"margin cushion {cushion:.1%} is below {self._threshold:.0%}: "
                "reduce positions before the broker liquidates",
            )
