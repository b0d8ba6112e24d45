"""Parsers for the client requests the gateway understands (placeOrder's walk included)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from broker.gateway.codec import ProtocolError
from broker.gateway.versions import Ver

UNSET_DOUBLE_VALUE = 1.7976931348623157e308


@dataclass(frozen=True)
class ContractRef:
    """The 12 contract fields a client sends (conId .. tradingClass)."""

    con_id: int
    symbol: str
    sec_type: str
    expiry: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str


@dataclass(frozen=True)
class PlaceOrder:
    """The fields of a placeOrder request the venue needs."""

    order_id: int
    contract: ContractRef
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    what_if: bool


@dataclass(frozen=True)
class ExecFilter:
    client_id: int
    account: str
    symbol: str
    sec_type: str
    side: str


class Cursor:
    """Reads fields in order; the placeOrder tail has optional blocks that need a walk."""

    def __init__(self, fields: list[str], start: int = 0) -> None:
        self.fields = fields
        self.pos = start

    def next(self) -> str:
        if self.pos >= len(self.fields):
            raise ProtocolError(f"message ended after {self.pos} fields")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.next()

    def read_int(self, default: int = 0) -> int:
        text = self.next()
        try:
            return int(text) if text else default
        except ValueError:
            raise ProtocolError(f"field {self.pos - 1} is not an integer: {text!r}") from None

    def read_bool(self) -> bool:
        return self.read_int() != 0

    def read_decimal(self) -> Decimal | None:
        text = self.next()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ProtocolError(f"field {self.pos - 1} is not a number: {text!r}") from None
        if value >= Decimal(UNSET_DOUBLE_VALUE) or not value.is_finite():
            return None
        return value

    def contract(self) -> ContractRef:
        return ContractRef(
            con_id=self.read_int(),
            symbol=self.next(),
            sec_type=self.next(),
            expiry=self.next(),
            strike=self.next(),
            right=self.next(),
            multiplier=self.next(),
            exchange=self.next(),
            primary_exchange=self.next(),
            currency=self.next(),
            local_symbol=self.next(),
            trading_class=self.next(),
        )


def parse_place_order(fields: list[str], server_version: int) -> PlaceOrder:
    """Walk a placeOrder (id 3; a version field before v145) far enough to find whatIf."""
    cur = Cursor(fields, 1 if server_version >= Ver.ORDER_CONTAINER else 2)
    order_id = cur.read_int()
    contract = cur.contract()
    if contract.sec_type == "BAG":
        raise ProtocolError("combo (BAG) orders are not supported by the paper gateway")
    cur.skip(2)  # secIdType, secId
    action = cur.next()
    quantity = cur.read_decimal() or Decimal(0)
    order_type = cur.next()
    limit_price = cur.read_decimal()
    aux_price = cur.read_decimal()
    tif = cur.next()
    oca_group = cur.next()
    account = cur.next()
    cur.skip(2)  # openClose, origin
    order_ref = cur.next()
    transmit = cur.read_bool()
    parent_id = cur.read_int()
    cur.skip(3)  # blockOrder, sweepToFill, displaySize
    cur.skip(1)  # triggerMethod
    outside_rth = cur.read_bool()
    cur.skip(1)  # hidden
    cur.skip(7)  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup/Method/Percentage
    if server_version < Ver.FA_PROFILE_DESUPPORT:
        cur.skip(1)  # faProfile
    if server_version >= Ver.MODELS_SUPPORT:
        cur.skip(1)  # modelCode
    cur.skip(21)  # shortSaleSlot .. volatilityType
    delta_neutral_type = cur.next()
    cur.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_type:
        cur.skip(8)
    cur.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    increment = cur.read_decimal()
    if increment is not None and increment > 0:
        cur.skip(7)
    cur.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if cur.next():  # hedgeType
        cur.skip(1)
    cur.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if cur.read_bool():  # delta-neutral contract
        cur.skip(3)
    if cur.next():  # algoStrategy
        cur.skip(2 * cur.read_int())
    cur.skip(1)  # algoId
    what_if = cur.read_bool()
    return PlaceOrder(
        order_id=order_id,
        contract=contract,
        action=action,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        aux_price=aux_price,
        tif=tif or "DAY",
        oca_group=oca_group,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        what_if=what_if,
    )


def parse_exec_filter(fields: list[str]) -> tuple[int, ExecFilter]:
    """reqExecutions `7, 3, reqId, clientId, acct, time, symbol, secType, exchange, side`."""
    cur = Cursor(fields, 2)
    req_id = cur.read_int()
    client_id = cur.read_int()
    account = cur.next()
    cur.skip(1)
    symbol = cur.next()
    sec_type = cur.next()
    cur.skip(1)
    side = cur.next()
    return req_id, ExecFilter(client_id, account, symbol, sec_type, side)


def parse_req_with_contract(
    fields: list[str], *, versioned: bool = True
) -> tuple[int, ContractRef, Cursor]:
    """`id, [version,] reqId, contract(12), ...` (reqMktData, reqContractDetails, bars...)."""
    cur = Cursor(fields, 2 if versioned else 1)
    req_id = cur.read_int()
    return req_id, cur.contract(), cur


def parse_version_range(text: str) -> tuple[int, int]:
    """The client's `v157..178[ options]` handshake string."""
    body = text.split(" ", 1)[0]
    if not body.startswith("v"):
        raise ProtocolError(f"bad version string {text!r}")
    low, _, high = body[1:].partition("..")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise ProtocolError(f"bad version string {text!r}") from None
