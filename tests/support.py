"""Shared test helpers: a hand-written fake broker, intent factories, eventually()."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from broker.brackets import bracket_legs
from contracts.broker import (
    AccountSnapshot,
    BrokerConnected,
    BrokerEvent,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    Quote,
    QuoteUpdated,
    order_ref_for,
    parse_order_ref,
)
from contracts.config import Config, RiskConfig, StaleConfig
from contracts.enums import (
    BrokerOrderStatus,
    DenialReason,
    LifecycleState,
    OrderLeg,
    OrderType,
    Regime,
    Side,
    TradingState,
)
from contracts.intent import CheckResult, Evidence, Instrument, Intent, OrderParams, PositionSizing
from contracts.market import ContractFacts
from engine.clock import Clock, ManualClock
from engine.engine import Engine
from engine.instruments import Resolution
from engine.ports import BrokerUnavailable, EventSink
from engine.results import CommandResult
from engine.risk import RiskContext, pre_trade_checks

AAPL = Instrument(symbol="AAPL")
EXIT_LEGS = (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT)
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
"""Vendored test data, each folder with its licence."""
TWS_CAPTURE = FIXTURES / "tws-v176-capture" / "request_response.json"
"""Real TWS bytes (server version 176), BSD-2-Clause: see tws-v176-capture/LICENSE."""


async def eventually(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Wait until predicate() is truthy, or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class FakeBroker:
    """An in-memory broker the test drives by hand: it records requests, tests push events.

    It lists a bracket's exits as a broker does: working from the submit, gone with an unfilled
    entry's cancel or reject, and one gone when the other fills (their OCA group).
    """

    name = "fake"

    def __init__(self, clock: Clock, *, auto_ack: bool = True, account: str = "DU1234567") -> None:
        self.clock = clock
        self.auto_ack = auto_ack
        self.account_id = account
        self.sink: EventSink = lambda e: None
        self._connected = False
        self.submits: list[OrderRequest] = []
        self.cancels: list[str] = []
        self.cancel_all_calls = 0
        self.working: dict[str, BrokerOrder] = {}
        self.fills: list[BrokerExecution] = []
        self.fail_submit: str | None = None
        self._ids = itertools.count(1)
        self._exit_ids = itertools.count(5001)
        self._exec = itertools.count(1)
        self.subscribed: list[str] = []
        self.position_book: dict[str, Decimal] = {}
        """Net position per symbol from fills; tests may tamper with it to create drift."""
        self.contracts: dict[str, ContractFacts] = {}
        """Contract facts by symbol; a symbol not here is described as a plain US stock."""
        self.unknown_symbols: set[str] = set()
        self.contract_queries: list[Instrument] = []

    # port
    def set_event_sink(self, sink: EventSink) -> None:
        self.sink = sink

    async def connect(self) -> None:
        self._connected = True
        self.sink(BrokerConnected(ts=self.clock.now(), account_id=self.account_id, is_paper=True))

    async def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def submit(self, order: OrderRequest) -> None:
        if not self._connected:
            raise BrokerUnavailable("not connected")
        if self.fail_submit:
            raise BrokerUnavailable(self.fail_submit)
        self.submits.append(order)
        for leg in bracket_legs(order):  # the entry, then its exits
            oid = next(self._ids if leg.parent_ref is None else self._exit_ids)
            self.working[leg.order_ref] = BrokerOrder(
                order_ref=leg.order_ref,
                broker_order_id=oid,
                perm_id=1000 + oid,
                instrument=order.instrument,
                side=leg.side,
                quantity=leg.quantity,
                filled=Decimal(0),
                remaining=leg.quantity,
                order_type=leg.order_type,
                limit_price=leg.limit_price,
                stop_price=leg.stop_price,
                status=BrokerOrderStatus.WORKING,
            )
        if self.auto_ack:
            self.ack(order.order_ref)

    async def cancel(self, order_ref: str) -> None:
        self.cancels.append(order_ref)
        self.confirm_cancel(order_ref)

    async def cancel_all(self) -> None:
        self.cancel_all_calls += 1
        for ref in list(self.working):
            self.confirm_cancel(ref)

    async def open_orders(self) -> list[BrokerOrder]:
        if not self._connected:
            raise BrokerUnavailable("not connected")
        return list(self.working.values())

    async def executions(self) -> list[BrokerExecution]:
        return list(self.fills)

    async def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(
                account=self.account_id,
                instrument=Instrument(symbol=symbol),
                quantity=qty,
                avg_cost=Decimal(0),
            )
            for symbol, qty in self.position_book.items()
            if qty
        ]

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(account_id=self.account_id, is_paper=True, ts=self.clock.now())

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        self.subscribed.append(instrument.symbol)
        self.quote(instrument.symbol, "99.99", "100.01")

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        self.contract_queries.append(instrument)
        symbol = instrument.symbol
        if symbol in self.unknown_symbols:
            return []
        if symbol not in self.contracts:
            self.contracts[symbol] = (
                future_facts(symbol, instrument.exchange, instrument.expiry)
                if instrument.sec_type == "FUT"
                else stock_facts(symbol)
            )
        facts = self.contracts[symbol]
        return [] if instrument.con_id not in (None, facts.con_id) else [facts]

    # driving it
    def order(self, ref: str) -> BrokerOrder:
        return self.working[ref]

    def ack(self, ref: str) -> None:
        o = self.working[ref]
        self.sink(
            OrderAccepted(
                ts=self.clock.now(),
                order_ref=ref,
                broker_order_id=o.broker_order_id,
                perm_id=o.perm_id,
            )
        )

    def fill(self, ref: str, qty: Decimal | int, price: Decimal | str) -> None:
        o = self.working[ref]
        qty, px = Decimal(qty), Decimal(price)
        filled = o.filled + qty
        remaining = o.quantity - filled
        exec_id = f"E{next(self._exec):05d}"
        self.fills.append(
            BrokerExecution(
                exec_id=exec_id,
                order_ref=ref,
                perm_id=o.perm_id,
                symbol=o.instrument.symbol,
                side=o.side,
                quantity=qty,
                price=px,
                cum_quantity=filled,
                time=self.clock.now(),
            )
        )
        status = BrokerOrderStatus.FILLED if remaining == 0 else BrokerOrderStatus.WORKING
        self.working[ref] = o.model_copy(
            update={"filled": filled, "remaining": remaining, "status": status}
        )
        if remaining == 0:
            del self.working[ref]
            if self._leg(ref) in EXIT_LEGS:
                self._drop_exits(ref)  # the OCA group cancels the other exit
        symbol = o.instrument.symbol
        self.position_book[symbol] = self.position_book.get(symbol, Decimal(0)) + o.side.sign * qty
        self.sink(
            OrderFilled(
                ts=self.clock.now(),
                order_ref=ref,
                perm_id=o.perm_id,
                exec_id=exec_id,
                side=o.side,
                quantity=qty,
                price=px,
                cum_quantity=filled,
                remaining=remaining,
            )
        )

    def reject(self, ref: str, code: int = 201, reason: str = "insufficient margin") -> None:
        self.working.pop(ref, None)
        if self._leg(ref) not in EXIT_LEGS:
            self._drop_exits(ref)  # a refused entry takes its exits with it
        self.sink(OrderRejected(ts=self.clock.now(), order_ref=ref, code=code, reason=reason))

    def cancel_exits(self, intent_id: str, *legs: OrderLeg) -> None:
        """The broker reports a bracket's exits cancelled (all, or `legs`)."""
        for leg in legs or EXIT_LEGS:
            ref = order_ref_for(intent_id, leg)
            listed = self.working.pop(ref, None)
            perm_id = listed.perm_id if listed is not None else 0
            self.sink(OrderCancelled(ts=self.clock.now(), order_ref=ref, perm_id=perm_id))

    def confirm_cancel(self, ref: str) -> None:
        o = self.working.pop(ref, None)
        if o is None:
            return
        if o.filled == 0 and self._leg(ref) not in EXIT_LEGS:
            self._drop_exits(ref)  # an unfilled entry's exits go with it
        self.sink(
            OrderCancelled(ts=self.clock.now(), order_ref=ref, perm_id=o.perm_id, filled=o.filled)
        )

    def entries(self) -> list[str]:
        """The orders the broker lists, a bracket's exits left out."""
        return [ref for ref in self.working if self._leg(ref) not in EXIT_LEGS]

    def drop_silently(self, ref: str) -> BrokerOrder:
        """The order leaves the broker's book and no message says so (a status lost on the
        wire, a DAY exit expired while the answer went astray): only its listing changes."""
        return self.working.pop(ref)

    @staticmethod
    def _leg(ref: str) -> OrderLeg | None:
        parsed = parse_order_ref(ref)
        return parsed[1] if parsed else None

    def _drop_exits(self, ref: str) -> None:
        """Unlist the bracket exits of `ref`'s intent."""
        parsed = parse_order_ref(ref)
        if parsed is not None:
            for leg in EXIT_LEGS:
                self.working.pop(order_ref_for(parsed[0], leg), None)

    def quote(self, symbol: str, bid: str, ask: str, ts: datetime | None = None) -> None:
        self.sink(
            QuoteUpdated(
                ts=self.clock.now(),
                quote=Quote(
                    symbol=symbol,
                    bid=Decimal(bid),
                    ask=Decimal(ask),
                    last=(Decimal(bid) + Decimal(ask)) / 2,
                    ts=ts or self.clock.now(),
                ),
            )
        )

    def push(self, event: BrokerEvent) -> None:
        self.sink(event)


_intent_ids = itertools.count(1)


def future_facts(symbol: str, exchange: str = "CME", expiry: str = "") -> ContractFacts:
    """A future the fake broker lists when asked: multiplier 5, the intent's month; a cent tick
    so the suite's round test prices stay on the grid."""
    month = expiry or "202612"
    last_day = date(int(month[:4]), int(month[4:6]), int(month[6:8]) if len(month) == 8 else 18)
    return stock_facts(
        symbol,
        sec_type="FUT",
        exchange=exchange,
        multiplier=Decimal(5),
        expiry=last_day,
        trading_class=symbol,
    )


def stock_facts(symbol: str, con_id: int | None = None, **facts: Any) -> ContractFacts:
    """A US stock as a broker describes it: tick 0.01, multiplier 1, whole shares."""
    base: dict[str, Any] = {
        "con_id": con_id or 100_000 + sum((i + 1) * ord(c) for i, c in enumerate(symbol)),
        "symbol": symbol,
        "sec_type": "STK",
        "exchange": "SMART",
        "currency": "USD",
        "multiplier": Decimal(1),
        "min_tick": Decimal("0.01"),
    }
    return ContractFacts(**(base | facts))


def make_intent(
    clock: Clock,
    *,
    intent_id: str | None = None,
    side: Side = Side.BUY,
    quantity: int | str = 10,
    order_type: OrderType = OrderType.LIMIT,
    limit: str | None = "100.00",
    stop_loss: str | None = "99.90",
    take_profit: str | None = None,
    state_age_min: float = 0.0,
    regime: Regime = Regime.NORMAL,
    symbol: str = "AAPL",
    reduces_risk: bool = False,
) -> Intent:
    """A well-formed intent: 10 AAPL @ 100.00, stop 10 ticks away ($1.00 at risk)."""
    return Intent(
        intent_id=intent_id or f"it-{next(_intent_ids)}",
        strategy="test",
        order=OrderParams(
            instrument=Instrument(symbol=symbol),
            side=side,
            quantity=Decimal(quantity),
            order_type=order_type,
            limit_price=Decimal(limit) if limit and order_type is not OrderType.MARKET else None,
            stop_loss=Decimal(stop_loss) if stop_loss else None,
            take_profit=Decimal(take_profit) if take_profit else None,
        ),
        state_hash="abc123",
        state_ts=clock.now() - timedelta(minutes=state_age_min),
        regime=regime,
        evidence=Evidence(
            setup_quality=72.5,
            quality_breakdown={"trend": 30.0, "volume": 22.5, "structure": 20.0},
            htf_alignment=True,
            ltf_alignment=True,
            risk_parameters={"stop_ticks": Decimal(10)},
            red_checks=(CheckResult(name="spread", passed=True, detail="1 tick"),),
            state_freshness_s=state_age_min * 60,
            sizing=PositionSizing(
                account_equity=Decimal(100000),
                risk_fraction=Decimal("0.0001"),
                risk_budget=Decimal(10),
                per_share_risk=Decimal("0.10"),
                computed_quantity=Decimal(100),
            ),
        ),
        reduces_risk=reduces_risk,
    )


def config_with(**risk: Any) -> Config:
    """Defaults, with risk overrides (e.g. max_trades_per_day=1000)."""
    base = Config()
    return base.model_copy(update={"risk": base.risk.model_copy(update=risk)})


async def started_engine(
    tmp_path: Path,
    config: Config | None = None,
    clock: ManualClock | None = None,
    broker: FakeBroker | None = None,
) -> tuple[Engine, FakeBroker, ManualClock]:
    """An engine started on `broker` (by default a new FakeBroker on `clock`: a broker passed
    in runs on the clock passed with it), AAPL quoted."""
    clock = clock or ManualClock()
    broker = broker or FakeBroker(clock)
    engine = Engine(config or config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    return engine, broker, clock


async def approve_pending(engine: Engine, intent_id: str) -> CommandResult:
    """Approve with the token the engine offered for the intent (as the console does)."""
    return await engine.approve(intent_id, engine.pending_token(intent_id) or "")


async def managed_bracket(engine: Engine, broker: FakeBroker, clock: Clock) -> str:
    """Long 10 AAPL at 100.00, its bracket stop (99.90) and target (100.20) working at the
    broker (MANAGED); the intent id."""
    intent = make_intent(clock, limit="100.00", stop_loss="99.90", take_profit="100.20")
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.fill(order_ref_for(intent.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.records[intent.intent_id].state is LifecycleState.MANAGED)
    return intent.intent_id


async def working_orders(engine: Engine, clock: Clock, n: int) -> list[str]:
    """Propose and approve n AAPL buys (quantities 1..n); their intent ids, oldest first."""
    ids = []
    for i in range(n):
        intent = make_intent(clock, quantity=1 + i)
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
        ids.append(intent.intent_id)
    return ids


def risk_context(clock: Clock, **overrides: object) -> RiskContext:
    """A pre-trade context that passes every check (AAPL 99.99/100.01, flat, ACTIVE); the
    keyword arguments replace its fields."""
    fields: dict[str, object] = dict(
        now=clock.now(),
        quote=Quote(symbol="AAPL", bid=Decimal("99.99"), ask=Decimal("100.01"), ts=clock.now()),
        position=Decimal(0),
        working_same_side=Decimal(0),
        trades_today=0,
        realized_pnl_today=Decimal(0),
        consecutive_losses=0,
        trading_state=TradingState.ACTIVE,
        kill_flags=(),
        connected=True,
        recent_identical_s=None,
        instrument=Resolution(stock_facts("AAPL")),
    )
    fields.update(overrides)
    return RiskContext(**fields)  # type: ignore[arg-type]


def risk_denials(intent: Intent, context: RiskContext, **risk: Any) -> set[DenialReason]:
    """The denial reasons `pre_trade_checks` gives under a RiskConfig of `risk`."""
    checks = pre_trade_checks(intent, context, RiskConfig(**risk), StaleConfig())
    return {c.reason for c in checks if not c.passed and c.reason}


LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l"
TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?<>=$]*[A-Za-z~]")
"""A control sequence: how the console sets and restores the terminal's modes."""


def said_after_the_console(output: str) -> str:
    """What a `deskgate` process printed once its console gave the terminal back (left the
    alternate screen), without the terminal's mode resets: the lines the trader reads in the
    shell. A process that drew no console gives its whole output."""
    return TERMINAL_CONTROL.sub("", output.rpartition(LEAVE_ALTERNATE_SCREEN)[2])
