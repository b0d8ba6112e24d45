"""Chaos modes: per-order outcome probabilities (fill, partial, reject, delay) and latency."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from contracts.enums import ChaosMode


class Outcome(StrEnum):
    """What the venue does with one order once it reaches the book."""

    FILL = "FILL"
    PARTIAL = "PARTIAL"
    REJECT = "REJECT"
    DELAY = "DELAY"


@dataclass(frozen=True)
class ChaosProfile:
    """Outcome probabilities (summing to 1) plus delay and ack-latency ranges in seconds."""

    fill: float
    partial: float
    reject: float
    delay: float
    delay_range: tuple[float, float]
    ack_latency: tuple[float, float]

    def draw(self, rng: random.Random) -> Outcome:
        """One outcome, from exactly one uniform draw."""
        u = rng.random()
        if u < self.reject:
            return Outcome.REJECT
        if u < self.reject + self.delay:
            return Outcome.DELAY
        if u < self.reject + self.delay + self.partial:
            return Outcome.PARTIAL
        return Outcome.FILL

    def draw_delay(self, rng: random.Random) -> float:
        low, high = self.delay_range
        return rng.uniform(low, high) if high > 0 else 0.0

    def draw_latency(self, rng: random.Random) -> float:
        low, high = self.ack_latency
        return rng.uniform(low, high) if high > 0 else 0.0


PROFILES: dict[ChaosMode, ChaosProfile] = {
    ChaosMode.INSTANT: ChaosProfile(1.0, 0.0, 0.0, 0.0, (0.0, 0.0), (0.0, 0.0)),
    ChaosMode.REALISTIC: ChaosProfile(0.90, 0.05, 0.03, 0.02, (10.0, 30.0), (0.002, 0.020)),
    ChaosMode.ADVERSARIAL: ChaosProfile(0.70, 0.15, 0.10, 0.05, (30.0, 60.0), (0.050, 0.250)),
}


@dataclass(frozen=True)
class ScriptedOutcome:
    """A forced outcome for the next order (tests and fault injection), bypassing the dice."""

    outcome: Outcome
    delay: float = 0.0
    reason: str = ""
