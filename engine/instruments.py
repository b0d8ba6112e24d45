"""The instrument master: contract facts from the broker, cached for the session, checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from contracts.enums import DenialReason
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts
from engine.ports import BrokerUnavailable

R = DenialReason
ContractKey = tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    """What the master knows about an instrument: its facts, or why there are none."""

    facts: ContractFacts | None
    reason: DenialReason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.facts is not None and self.reason is None


NOT_RESOLVED = Resolution(None, R.UNKNOWN_INSTRUMENT, "the instrument was never resolved")


def contract_key(instrument: Instrument) -> ContractKey:
    """How an intent names a contract: by conId, or symbol + sec type + exchange + expiry."""
    if instrument.con_id is not None:
        return ("conid", str(instrument.con_id))
    return (
        instrument.symbol,
        instrument.sec_type,
        instrument.exchange,
        instrument.currency,
        instrument.expiry,
    )


def mismatches(instrument: Instrument, facts: ContractFacts) -> list[str]:
    """Every contract fact the instrument states that the broker's facts contradict."""
    stated: list[tuple[str, Any, Any]] = [
        ("symbol", instrument.symbol, facts.symbol),
        ("sec_type", instrument.sec_type, facts.sec_type),
        ("currency", instrument.currency, facts.currency),
    ]
    if instrument.con_id is not None:
        stated.append(("con_id", instrument.con_id, facts.con_id))
    if instrument.multiplier is not None:
        stated.append(("multiplier", instrument.multiplier, facts.multiplier))
    if instrument.tick_size is not None:
        stated.append(("tick_size", instrument.tick_size, facts.min_tick))
    if instrument.trading_class:
        stated.append(("trading_class", instrument.trading_class, facts.trading_class))
    if instrument.primary_exchange and facts.primary_exchange:
        stated.append(("primary_exchange", instrument.primary_exchange, facts.primary_exchange))
    if instrument.expiry:
        broker_expiry = facts.expiry.strftime("%Y%m%d") if facts.expiry else ""
        stated.append(
            ("expiry", instrument.expiry, broker_expiry[: len(instrument.expiry)] or "none")
        )
    return [
        f"{name} {ours} (broker says {theirs})" for name, ours, theirs in stated if ours != theirs
    ]


def with_facts(intent: Intent, facts: ContractFacts) -> Intent:
    """The intent with its instrument completed from the broker's facts (the canonical form)."""
    data = intent.model_dump()
    instrument = data["order"]["instrument"]
    instrument.update(
        con_id=facts.con_id,
        tick_size=facts.min_tick,
        multiplier=facts.multiplier,
        currency=facts.currency,
        trading_class=facts.trading_class,
        expiry=facts.expiry.strftime("%Y%m%d") if facts.expiry else "",
    )
    if not instrument["primary_exchange"]:
        instrument["primary_exchange"] = facts.primary_exchange
    return Intent.model_validate(data)


def nearest_on_grid(value: Decimal, step: Decimal) -> tuple[Decimal, Decimal]:
    """The grid points just below and just above `value` (equal when it is on the grid)."""
    below = (value / step).to_integral_value(ROUND_FLOOR) * step
    above = (value / step).to_integral_value(ROUND_CEILING) * step
    return below, above


def off_grid(value: Decimal, step: Decimal) -> bool:
    return value % step != 0


class InstrumentMaster:
    """Asks the broker port's `contract_details` once per contract and remembers the answer.

    A broker without contract details cannot be trusted to describe contracts: every instrument
    is then refused (UNKNOWN_INSTRUMENT), never valued from the intent's own claims.
    """

    def __init__(self, broker: object, record: Callable[[Instrument, ContractFacts], None]):
        self._broker = broker
        self._record = record
        self._by_key: dict[ContractKey, ContractFacts] = {}
        self._failures: dict[ContractKey, Resolution] = {}

    async def resolve(self, instrument: Instrument) -> Resolution:
        """The broker's facts for an instrument (asked once per session), checked against it."""
        key = contract_key(instrument)
        if key not in self._by_key:
            answer = await self._ask(instrument)
            if answer.facts is None:
                self._failures[key] = answer
                return answer
            self._failures.pop(key, None)
            self._remember(instrument, answer.facts)
        return self.check(instrument)

    def check(self, instrument: Instrument) -> Resolution:
        """The cached facts for an instrument, or why it cannot be traded (no broker call)."""
        key = contract_key(instrument)
        facts = self._by_key.get(key)
        if facts is None:
            return self._failures.get(key, NOT_RESOLVED)
        wrong = mismatches(instrument, facts)
        if wrong:
            return Resolution(facts, R.INSTRUMENT_MISMATCH, "; ".join(wrong))
        return Resolution(facts)

    def facts(self, instrument: Instrument) -> ContractFacts | None:
        """The broker's facts when the instrument resolved cleanly (None otherwise)."""
        resolution = self.check(instrument)
        return resolution.facts if resolution.ok else None

    def known(self) -> list[ContractFacts]:
        """Every contract resolved this session (one entry per conId)."""
        return list({f.con_id: f for f in self._by_key.values()}.values())

    def _remember(self, query: Instrument, facts: ContractFacts) -> None:
        first_time = all(f.con_id != facts.con_id for f in self._by_key.values())
        self._by_key[contract_key(query)] = facts
        self._by_key[("conid", str(facts.con_id))] = facts
        if first_time:
            self._record(query, facts)

    async def _ask(self, instrument: Instrument) -> Resolution:
        details = getattr(self._broker, "contract_details", None)
        name = getattr(self._broker, "name", "the broker")
        if details is None:
            return Resolution(None, R.UNKNOWN_INSTRUMENT, f"{name} cannot describe contracts")
        try:
            matches: list[ContractFacts] = await details(_query(instrument))
        except BrokerUnavailable as exc:
            return Resolution(None, R.UNKNOWN_INSTRUMENT, f"cannot ask {name}: {exc}")
        if instrument.con_id is not None:
            matches = [m for m in matches if m.con_id == instrument.con_id]
        if not matches:
            return Resolution(None, R.UNKNOWN_INSTRUMENT, f"{_named(instrument)} unknown to {name}")
        if len({m.con_id for m in matches}) > 1:
            ids = ", ".join(str(m.con_id) for m in matches[:5])
            return Resolution(
                None,
                R.AMBIGUOUS_INSTRUMENT,
                f"{len(matches)} contracts match {_named(instrument)} (conIds {ids}); "
                "name the expiry, exchange or conId",
            )
        return Resolution(matches[0])


def _query(instrument: Instrument) -> Instrument:
    """Only what identifies the contract goes to the broker, never the intent's claims."""
    return Instrument(
        symbol=instrument.symbol,
        sec_type=instrument.sec_type,
        exchange=instrument.exchange,
        currency=instrument.currency,
        con_id=instrument.con_id,
        expiry=instrument.expiry,
        trading_class=instrument.trading_class,
    )


def _named(instrument: Instrument) -> str:
    parts = [instrument.symbol, instrument.sec_type, instrument.exchange]
    if instrument.expiry:
        parts.append(instrument.expiry)
    if instrument.con_id is not None:
        parts.append(f"conId {instrument.con_id}")
    return " ".join(parts)
