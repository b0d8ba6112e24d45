"""The instrument master: contract facts from the broker, cached for the session, checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contracts.enums import DenialReason
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts, FuturesCalendar
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


CME_ZONE = ZoneInfo("America/Chicago")

MONTH_CODES = "FGHJKMNQUVXZ"
"""CME month codes, January to December."""


def exchange_date(now: datetime) -> date:
    """The calendar day at CME (Chicago) at `now`: expiry and roll dates are CME dates."""
    return now.astimezone(CME_ZONE).date()


def roll_date(expiry: date, days_before: int) -> date:
    """The day a future rolls: `days_before` calendar days before its last trade date."""
    return expiry - timedelta(days=days_before)


def local_symbol(facts: ContractFacts) -> str:
    """MESZ6: symbol, the expiry's month code and the last digit of its year."""
    if facts.expiry is None:
        return facts.symbol
    return f"{facts.symbol}{MONTH_CODES[facts.expiry.month - 1]}{facts.expiry.year % 10}"


def front_month(matches: list[ContractFacts], today: date, roll_days: int) -> ContractFacts | None:
    """The nearest expiry whose roll date has not come yet (None: every one has rolled)."""
    live = [m for m in matches if m.expiry and today < roll_date(m.expiry, roll_days)]
    return min(live, key=lambda m: m.expiry or date.max, default=None)


def is_future_list(instrument: Instrument, matches: list[ContractFacts]) -> bool:
    """A futures query without expiry or conId that the broker answered with its expiries."""
    return (
        instrument.sec_type == "FUT"
        and not instrument.expiry
        and instrument.con_id is None
        and all(m.sec_type == "FUT" and m.expiry is not None for m in matches)
    )


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

    A future named without expiry or conId resolves to its front month: the nearest expiry whose
    roll date (`roll_days` before expiry) has not come on the exchange's `today()`. The choice
    is cached for the session; if the session outlives the roll date, PreTradeRisk refuses the
    cached contract CONTRACT_ROLLING rather than switching months under a pending trade.
    """

    def __init__(
        self,
        broker: object,
        record: Callable[[Instrument, ContractFacts], None],
        *,
        today: Callable[[], date] = date.today,
        roll_days: int = 8,
    ):
        self._broker = broker
        self._record = record
        self._today = today
        self.roll_days = roll_days
        self._by_key: dict[ContractKey, ContractFacts] = {}
        self._failures: dict[ContractKey, Resolution] = {}
        self._expiries: dict[tuple[str, str], list[ContractFacts]] = {}
        """(symbol, exchange) -> every expiry the broker listed, for the front-month view."""

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

    def calendar(self, facts: ContractFacts) -> FuturesCalendar | None:
        """A future's expiry, roll date and $/tick for the trader (None for non-futures)."""
        if facts.sec_type != "FUT" or facts.expiry is None:
            return None
        listed = self._expiries.get((facts.symbol, facts.exchange), [facts])
        front = front_month(listed, self._today(), self.roll_days)
        return FuturesCalendar(
            con_id=facts.con_id,
            symbol=facts.symbol,
            local_symbol=local_symbol(facts),
            expiry=facts.expiry,
            roll_date=roll_date(facts.expiry, self.roll_days),
            tick_value=facts.min_tick * facts.multiplier,
            multiplier=facts.multiplier,
            front=front is not None and front.con_id == facts.con_id,
        )

    def calendars(self) -> list[FuturesCalendar]:
        """The calendar of every future resolved this session, nearest expiry first."""
        found = (self.calendar(f) for f in self.known())
        return sorted((c for c in found if c is not None), key=lambda c: (c.symbol, c.expiry))

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
        if len({m.con_id for m in matches}) > 1 and is_future_list(instrument, matches):
            return self._front_of(instrument, matches)
        if len({m.con_id for m in matches}) > 1:
            ids = ", ".join(str(m.con_id) for m in matches[:5])
            return Resolution(
                None,
                R.AMBIGUOUS_INSTRUMENT,
                f"{len(matches)} contracts match {_named(instrument)} (conIds {ids}); "
                "name the expiry, exchange or conId",
            )
        return Resolution(matches[0])

    def _front_of(self, instrument: Instrument, matches: list[ContractFacts]) -> Resolution:
        self._expiries[(matches[0].symbol, matches[0].exchange)] = matches
        today = self._today()
        front = front_month(matches, today, self.roll_days)
        if front is None:
            last = max(m.expiry or date.min for m in matches)
            return Resolution(
                None,
                R.CONTRACT_ROLLING,
                f"every listed {_named(instrument)} expiry has rolled by {today} "
                f"(last {last}, roll {self.roll_days} days before expiry)",
            )
        return Resolution(front)


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
