"""Market data side of the adapter: contract qualification and quote subscriptions."""

from __future__ import annotations

import logging

from ib_async import Contract
from ib_async import Ticker as IbTicker

from broker.ibkr import convert, mapping
from broker.ibkr.link import IbLink
from contracts.broker import Quote, QuoteUpdated
from contracts.intent import Instrument
from contracts.market import ContractFacts
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

InstrumentKey = tuple[str, str, str, str, str]


def instrument_key(instrument: Instrument) -> InstrumentKey:
    return (
        instrument.symbol,
        instrument.sec_type,
        instrument.exchange,
        instrument.currency,
        instrument.expiry,
    )


class MarketData:
    """Quote subscriptions kept across reconnects, and the conIds they were qualified to."""

    def __init__(self, link: IbLink) -> None:
        self._link = link
        self._subscriptions: dict[InstrumentKey, Instrument] = {}
        self._tickers: dict[int, tuple[IbTicker, str]] = {}
        self._con_ids: dict[InstrumentKey, int] = {}

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        """Stream QuoteUpdated for `instrument` (kept across reconnects)."""
        key = instrument_key(instrument)
        if key in self._subscriptions:
            return
        self._subscriptions[key] = instrument
        if self._link.ib.isConnected():
            await self._start_quote(instrument)

    @property
    def subscribed(self) -> list[Instrument]:
        return list(self._subscriptions.values())

    def on_disconnected(self) -> None:
        self._tickers.clear()

    async def cancel_live(self) -> None:
        """Cancel the streams TWS still thinks are live (after 1101 they send nothing)."""
        for ticker, _ in list(self._tickers.values()):
            if ticker.contract is not None:
                await self._link.pacer.acquire(1)
                self._link.ib.cancelMktData(ticker.contract)

    async def resubscribe(self) -> None:
        """Request every subscribed quote stream again (after a reconnect or 1101)."""
        self._tickers.clear()
        for instrument in self.subscribed:
            await self._start_quote(instrument)

    async def qualified(self, instrument: Instrument) -> Contract | None:
        """The instrument's contract with its conId (asked once, then remembered)."""
        key = instrument_key(instrument)
        contract = convert.instrument_to_contract(instrument)
        con_id = self._con_ids.get(key) or instrument.con_id
        if con_id:
            contract.conId = con_id
            return contract
        try:
            details = await self._link.request(
                lambda: self._link.ib.reqContractDetailsAsync(contract)
            )
        except BrokerUnavailable as exc:
            log.warning("%s not qualified: %s", instrument.symbol, exc)
            return None
        found = [d.contract for d in details if d.contract is not None and d.contract.conId]
        if len(found) != 1:
            self._link.notice(0, f"{instrument.symbol} matches {len(found)} contracts")
            return None
        self._con_ids[key] = contract.conId = found[0].conId
        return contract

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        """Every contract the broker lists for the instrument (all expiries of a future
        without one); remembers the conId when there is exactly one."""
        query = convert.details_query(instrument)
        details = await self._link.request(lambda: self._link.ib.reqContractDetailsAsync(query))
        facts = [f for d in details if (f := convert.details_to_facts(d)) is not None]
        if len(facts) == 1 and (instrument.expiry or instrument.sec_type != "FUT"):
            self._con_ids[instrument_key(instrument)] = facts[0].con_id
        return facts

    async def _start_quote(self, instrument: Instrument) -> None:
        """reqMktData; ib_async keys tickers by conId, so the contract is qualified first."""
        contract = await self.qualified(instrument)
        if contract is None:
            return
        await self._link.pacer.acquire(1)
        if not self._link.ib.isConnected():
            return
        ticker = self._link.ib.reqMktData(contract, "", False, False)
        self._tickers[id(ticker)] = (ticker, instrument.symbol)

    def on_pending_tickers(self, tickers: set[IbTicker]) -> None:
        if not self._tickers:
            return
        now = self._link.clock.now()
        for ticker in tickers:
            entry = self._tickers.get(id(ticker))
            if entry is None:
                continue
            quote = Quote(
                symbol=entry[1],
                bid=mapping.to_price(ticker.bid),
                ask=mapping.to_price(ticker.ask),
                last=mapping.to_price(ticker.last),
                ts=now,
            )
            self._link.emit(QuoteUpdated(ts=now, quote=quote))
