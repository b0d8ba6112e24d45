"""The frozen, extra-forbidding model base every contract derives from."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

STRICT_FROZEN = ConfigDict(
    frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False, defer_build=True
)
"""No NaN or infinity in any number: one non-finite value stored would break every replay.
Validators are built on first use or by `contracts.events.build_validators()` (the engine's
start), not at import: the console's first frame does not wait for a hundred schemas."""


class Frozen(BaseModel):
    """Immutable model that rejects unknown fields."""

    model_config = STRICT_FROZEN


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,47}$")]
"""Ids that travel to the broker inside orderRef: short, no spaces, no slashes."""

Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9. /-]{0,20}$")]
MAX_MAGNITUDE = Decimal("1e15")
"""No quantity, price or amount is larger: Decimal arithmetic on 1e400 overflows mid-check."""
PositiveDecimal = Annotated[Decimal, Field(gt=0, le=MAX_MAGNITUDE)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, le=MAX_MAGNITUDE)]
BoundedDecimal = Annotated[Decimal, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
