"""IB contract details (reqContractDetails) as the instrument master's `ContractFacts`."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from ib_async import Contract, ContractDetails
from pydantic import ValidationError

from broker.ibkr import mapping
from broker.ibkr.convert import instrument_to_contract
from contracts.intent import Instrument
from contracts.market import ContractFacts

log = logging.getLogger(__name__)


def details_query(instrument: Instrument) -> Contract:
    """The contract to ask about: by conId when known, a future by symbol + expiry."""
    contract = instrument_to_contract(instrument)
    if instrument.con_id is not None:
        contract.conId = instrument.con_id
    if instrument.sec_type == "FUT" and instrument.expiry:
        contract.symbol = instrument.symbol
        contract.localSymbol = ""
        contract.lastTradeDateOrContractMonth = instrument.expiry
        contract.tradingClass = instrument.trading_class
    return contract


def details_to_facts(details: ContractDetails) -> ContractFacts | None:
    """One contract as IB describes it; None (logged) if a fact is missing or out of range."""
    c = details.contract
    if c is None:
        return None
    multiplier = mapping.to_decimal(c.multiplier) if c.multiplier else Decimal(1)
    increment = mapping.to_decimal(details.sizeIncrement)
    if c.secType == "STK" or not increment or increment <= 0:
        increment = Decimal(1)  # the API takes whole shares unless the account says otherwise
    symbol = c.localSymbol if c.secType in ("CASH",) and c.localSymbol else c.symbol
    try:
        return ContractFacts(
            con_id=c.conId,
            symbol=symbol.upper(),
            sec_type=c.secType,
            exchange=c.exchange,
            currency=c.currency,
            multiplier=multiplier,
            min_tick=mapping.to_decimal(details.minTick),
            price_magnifier=details.priceMagnifier or 1,
            size_increment=increment,
            expiry=_expiry(c.lastTradeDateOrContractMonth),
            trading_class=c.tradingClass,
            primary_exchange=c.primaryExchange,
            long_name=details.longName,
        )
    except ValidationError as exc:
        log.warning("contract details for conId %s unusable: %s", c.conId, exc.errors()[0]["msg"])
        return None


def _expiry(text: str) -> date | None:
    digits = text.split(" ")[0] if text else ""
    if len(digits) != 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
