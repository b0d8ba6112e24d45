"""The strategy runtime as an intake plugin: bars and quotes in from the engine, intents out."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.broker import BarUpdated, QuoteUpdated
from contracts.enums import LifecycleState, OrderLeg, OrderType, Regime
from contracts.events import (
    FillRecorded,
    OrderRejectedByBroker,
    PositionBead,
)
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from contracts.market import ContractFacts
from engine.bus import StateChanged
from engine.intake import Propose
from engine.strategy.bars import Aggregator, view_of
from engine.strategy.config import StrategyConfig
from engine.strategy.evidence import instrument_of
from engine.strategy.manager import (
    Action,
    CancelEntry,
    ProposeEntry,
    RequestExit,
    RequestKill,
    RequestModify,
)
from engine.strategy.records import LearningRecord, TradeRecord
from engine.strategy.runtime import StrategyRuntime
from engine.strategy.sessions import trading_day
from engine.strategy.store import RECORDS_FILE, AnyRecord, RecordLog, read_log
from engine.strategy.templates import StrategyLibrary

log = logging.getLogger("deskgate.strategy")

SOURCE = "strategy"
BUS_QUEUE = 20_000
"""Large: the bus drops the oldest item when a subscriber falls behind (see engine.bus)."""
ENDED = (LifecycleState.CANCELLED, LifecycleState.REJECTED, LifecycleState.EXPIRED)


class StrategyPlugin:
    """`deskgate console --strategies K1,...` runs one of these as an intent source.

    Hooks the lead wires (each optional, found on the engine by name):
    * `engine.record_strategy(record)`: persist a record as an audit bead (else only the
      JSON-lines log under the data dir);
    * `engine.strategy_exit(intent_id, reason, text)`: a risk-reducing exit under the audited
      exemption (else a reduces_risk market intent goes through `propose`);
    * `engine.modify_stop(intent_id, stop_price, text)`: a supervised stop move (else journaled
      as not sent);
    * the engine must publish `BarUpdated` on its bus (5-second bars are rolled into 1-minute
      bars here, the runtime's one aggregation point).
    """

    def __init__(
        self,
        config: StrategyConfig,
        *,
        facts: Mapping[str, ContractFacts] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.facts = dict(facts or {})
        self.data_dir = data_dir
        self.runtime: StrategyRuntime | None = None
        self._log: RecordLog | None = None
        self._engine: Any = None
        self._rollers: dict[str, Aggregator] = {}
        self._day: date | None = None

    # --- records ---------------------------------------------------------------------------------

    def _sink(self, record: AnyRecord) -> None:
        if self._log is not None:
            self._log.append(record)
        hook = getattr(self._engine, "record_strategy", None)
        if callable(hook):
            hook(record)

    # --- the source -----------------------------------------------------------------------------

    async def __call__(self, propose: Propose, engine: Any) -> None:
        self._engine = engine
        data_dir = self.data_dir or engine.config.resolved_data_dir()
        path = data_dir / RECORDS_FILE
        history = [r for r in read_log(path) if isinstance(r, TradeRecord | LearningRecord)]
        self._log = RecordLog(path)
        facts = self.facts = await self._resolve_facts(engine)
        snap = engine.snapshot()
        account = snap.account
        equity = account.net_liquidation if account and account.net_liquidation else Decimal(0)
        stamp = engine.clock.now().strftime("%y%m%d%H%M%S")
        runtime = StrategyRuntime(self.config, facts, self._sink, equity=equity, run_id=stamp)
        runtime.learning.restore(history)
        self.runtime = runtime
        sub = engine.bus.subscribe(BUS_QUEUE)
        try:
            for symbol, f in facts.items():
                instrument = instrument_of(f)
                await engine.watch_quote(instrument)
                subscribe_bars = getattr(engine.broker, "subscribe_bars", None)
                if subscribe_bars is not None:
                    await subscribe_bars(instrument)
                else:
                    log.warning("broker %s has no live bars: %s not traded", engine.broker, symbol)
            while True:
                item = await sub.get()
                for action in self.handle(item):
                    await self._act(action, propose, engine)
        finally:
            sub.close()
            if self._log is not None:
                self._log.close()

    async def _resolve_facts(self, engine: Any) -> dict[str, ContractFacts]:
        out = dict(self.facts)
        details = getattr(engine.broker, "contract_details", None)
        for symbol in self.config.symbols:
            if symbol in out or details is None:
                continue
            found = await details(Instrument(symbol=symbol, sec_type="FUT", exchange="CME"))
            dated = sorted((f for f in found if f.expiry), key=lambda f: f.expiry)
            if dated:
                out[symbol] = dated[0]
        missing = [s for s in self.config.symbols if s not in out]
        if missing:
            raise ValueError(f"no contract details for {', '.join(missing)}")
        return out

    def handle(self, item: object) -> list[Action]:
        """Feed one bus item to the runtime; returns the actions it asks for."""
        runtime = self.runtime
        if runtime is None:
            return []
        if isinstance(item, BarUpdated):
            return self._on_bar(runtime, item)
        if isinstance(item, QuoteUpdated):
            q = item.quote
            if q.bid is not None and q.ask is not None:
                runtime.on_spread(q.symbol, float(q.bid), float(q.ask))
        elif isinstance(item, FillRecorded):
            if item.leg is OrderLeg.ENTRY:
                # A partial entry is a position already: track it at the quantity filled so far
                # (a cancel of the rest leaves exactly that much to manage).
                runtime.on_entry_filled(
                    item.intent_id, float(item.price), item.ts_event, int(item.cum_quantity)
                )
            elif item.remaining == 0:
                pos = runtime.positions.get(item.intent_id)
                reason = {OrderLeg.STOP_LOSS: "stop", OrderLeg.TAKE_PROFIT: "target"}.get(
                    item.leg, pos.exit_requested if pos and pos.exit_requested else "manual"
                )
                runtime.on_exit_filled(item.intent_id, float(item.price), item.ts_event, reason)
        elif isinstance(item, PositionBead) and item.to_state in ENDED and item.filled == 0:
            runtime.on_entry_cancelled(item.intent_id, item.to_state.value.lower(), item.ts_event)
        elif isinstance(item, OrderRejectedByBroker):
            runtime.on_reject()
        elif isinstance(item, StateChanged) and item.reason == "account":
            account = self._engine.snapshot().account if self._engine else None
            if account is not None:
                runtime.on_account(
                    account.net_liquidation,
                    float(account.cushion) if account.cushion is not None else None,
                    float(account.available_funds) if account.available_funds is not None else None,
                )
        return []

    def _on_bar(self, runtime: StrategyRuntime, event: BarUpdated) -> list[Action]:
        bar = event.bar
        if event.late:
            return []
        roller = self._rollers.setdefault(bar.symbol, Aggregator(60))
        actions: list[Action] = []
        for minute in roller.add(view_of(bar, gap_before=event.gap_before)):
            day = trading_day(self.config.session, minute.ts)
            if day != self._day:
                if self._day is not None:
                    actions += runtime.end_session(minute.ts)
                self._day = day
                runtime.new_session(day)
            actions += runtime.on_bar(minute, now=event.ts)
        return actions

    async def _act(self, action: Action, propose: Propose, engine: Any) -> None:
        runtime = self.runtime
        assert runtime is not None
        if isinstance(action, ProposeEntry):
            result = await propose(action.intent, SOURCE)
            if not result.accepted:
                runtime.on_entry_cancelled(
                    action.intent.intent_id, f"refused: {result.message}", engine.clock.now()
                )
        elif isinstance(action, RequestExit):
            hook = getattr(engine, "strategy_exit", None)
            if callable(hook):
                await hook(action.intent_id, action.reason, action.text)
            else:
                await propose(self._exit_intent(action, engine), SOURCE)
        elif isinstance(action, RequestModify):
            hook = getattr(engine, "modify_stop", None)
            if callable(hook):
                await hook(action.intent_id, action.stop_price, action.text)
            else:
                log.warning(
                    "stop move for %s not sent: engine has no modify_stop", action.intent_id
                )
        elif isinstance(action, CancelEntry):
            with contextlib.suppress(Exception):
                await engine.cancel(action.intent_id, action.reason)
        elif isinstance(action, RequestKill):
            await engine.kill(action.reason, actor=SOURCE)

    def _exit_intent(self, action: RequestExit, engine: Any) -> Intent:
        f = self.facts[action.symbol]
        now = engine.clock.now()
        return Intent(
            intent_id=f"x-{action.intent_id}"[:48],
            strategy=SOURCE,
            order=OrderParams(
                instrument=instrument_of(f),
                side=action.side,
                quantity=Decimal(action.quantity),
                order_type=OrderType.MARKET,
            ),
            state_hash=f"exit-{action.intent_id}"[:128],
            state_ts=now,
            regime=Regime.NORMAL,
            evidence=Evidence(
                setup_quality=0,
                htf_alignment=False,
                ltf_alignment=False,
                notes=f"exit ({action.reason}) of {action.intent_id}: {action.text}"[:2000],
            ),
            reduces_risk=True,
        )


def make_plugin(spec: str = "K1,K2,K3,K4,K5", symbols: str = "MES") -> StrategyPlugin:
    """The factory the console flag uses: `--strategies K1,...,K5 --symbols MES`."""
    names = tuple(n.strip().upper() for n in spec.split(",") if n.strip())
    syms = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    config = StrategyConfig(enabled=names, symbols=syms)
    StrategyLibrary(config)  # an unknown name fails here, with the names that exist
    return StrategyPlugin(config)
