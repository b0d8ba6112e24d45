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
from contracts.strategy import StrategyConfig
from engine.bus import StateChanged
from engine.intake import Propose
from engine.strategy.bars import Aggregator, view_of
from engine.strategy.evidence import instrument_of
from engine.strategy.journal import journal_line
from engine.strategy.manager import (
    Action,
    CancelEntry,
    ProposeEntry,
    RequestExit,
    RequestKill,
    RequestModify,
    StrategyPanelView,
)
from engine.strategy.records import DecisionAction, LearningRecord, StrategyRecord, TradeRecord
from engine.strategy.runtime import StrategyRuntime
from engine.strategy.sessions import trading_day
from engine.strategy.store import (
    RECORDS_FILE,
    AnyRecord,
    RecordLog,
    read_log,
    records_from_beads,
)
from engine.strategy.templates import StrategyLibrary

log = logging.getLogger("deskgate.strategy")

SOURCE = "strategy"
BUS_QUEUE = 20_000
"""Large: the bus drops the oldest item when a subscriber falls behind (see engine.bus)."""
PANEL_LINES = 12
"""The journal lines the console's strategies panel shows."""
ENDED = (LifecycleState.CANCELLED, LifecycleState.REJECTED, LifecycleState.EXPIRED)


class BotPlugin:
    """`deskgate console --strategies K1,...` runs one of these as an intent source.

    Records go to the audit store as `STRATEGY` beads (`engine.record_strategy`) and are read
    back from it on start (`engine.strategy_rows`); an engine without those hooks (tests, tools)
    gets the 0600 JSON-lines log under the data dir instead. Bars arrive as `BarUpdated` on the
    engine's bus once `engine.watch_bars` subscribed them (5-second bars are rolled into 1-minute
    bars here, the runtime's one aggregation point). Optional hooks, found by name:
    * `engine.strategy_exit(intent_id, reason, text)`: a risk-reducing exit under the audited
      exemption (engine.strategy.exits; else a reduces_risk market intent goes to `propose`);
    * `engine.modify_stop(intent_id, stop_price, text)`: a supervised stop move, only tighter
      (else journaled as not sent).
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
        self._exits_sent: dict[str, str] = {}
        """intent_id -> the reason of an exit the engine confirmed (labels its fill)."""

    def panel(self, lines: int = PANEL_LINES) -> StrategyPanelView:
        """What the console's strategies panel shows now (empty rows until the bot started)."""
        runtime = self.runtime
        if runtime is None:
            return StrategyPanelView()
        recent = list(runtime.journal.recent)[-lines:]
        return StrategyPanelView(
            tuple(runtime.status()),
            tuple(journal_line(r) for r in reversed(recent)),
            runtime.halted,
        )

    # --- records ---------------------------------------------------------------------------------

    def _sink(self, record: AnyRecord) -> None:
        hook = getattr(self._engine, "record_strategy", None)
        if callable(hook):
            hook(record)
        elif self._log is not None:
            self._log.append(record)

    # --- the source -----------------------------------------------------------------------------

    async def __call__(self, propose: Propose, context: Any) -> None:
        """Run as the engine's intent source (`context` is the engine)."""
        self._engine = engine = context
        rows = getattr(engine, "strategy_rows", None)
        if callable(rows):
            stored: list[StrategyRecord] = list(records_from_beads(rows()))
        else:
            path = (self.data_dir or engine.config.resolved_data_dir()) / RECORDS_FILE
            stored = list(read_log(path))
            self._log = RecordLog(path)
        history = [r for r in stored if isinstance(r, TradeRecord | LearningRecord)]
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
                if not await engine.watch_bars(instrument):
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
                # An exit the engine confirmed (the stop leg moved through the market) fills
                # on the stop leg: it is labelled with the reason the manager gave.
                reason = self._exits_sent.pop(item.intent_id, "") or {
                    OrderLeg.STOP_LOSS: "stop",
                    OrderLeg.TAKE_PROFIT: "target",
                }.get(item.leg, "manual")
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
                result = await hook(action.intent_id, action.reason, action.text)
                if result.ok:
                    self._exits_sent[action.intent_id] = action.reason
                else:
                    self._journal_refusal(action.intent_id, "EXIT", "exit_refused", result.message)
            else:
                await propose(self._exit_intent(action, engine), SOURCE)
        elif isinstance(action, RequestModify):
            hook = getattr(engine, "modify_stop", None)
            if callable(hook):
                result = await hook(action.intent_id, action.stop_price, action.text)
                if not result.ok:
                    self._journal_refusal(
                        action.intent_id, "MODIFY", "stop_move_refused", result.message
                    )
            else:
                log.warning(
                    "stop move for %s not sent: engine has no modify_stop", action.intent_id
                )
        elif isinstance(action, CancelEntry):
            with contextlib.suppress(Exception):
                await engine.cancel(action.intent_id, action.reason)
        elif isinstance(action, RequestKill):
            await engine.kill(action.reason, actor=SOURCE)

    def _journal_refusal(
        self, intent_id: str, action: DecisionAction, code: str, message: str
    ) -> None:
        """The engine refused an exit or a stop move: the journal says so, in the trade's line."""
        runtime = self.runtime
        pos = runtime.positions.get(intent_id) if runtime is not None else None
        if runtime is None or pos is None:
            log.warning("%s for %s: %s", code, intent_id, message)
            return
        what = "exit" if action == "EXIT" else "stop move"
        runtime.journal.write(
            self._engine.clock.now(),
            pos.strategy,
            pos.symbol,
            "LIVE",
            action,
            code,
            f"{pos.strategy} {what} not sent by the engine: {message}",
            intent_id,
        )

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


def make_plugin(
    config: StrategyConfig, spec: str | None = None, symbols: str | None = None
) -> BotPlugin:
    """The factory the console flags use: `config.strategy`, narrowed by `--strategies K1,...,K5`
    and `--symbols MES` when given (an unknown template name fails with the names that exist)."""
    update: dict[str, tuple[str, ...]] = {}
    if spec is not None:
        update["enabled"] = tuple(n.strip().upper() for n in spec.split(",") if n.strip())
    if symbols is not None:
        update["symbols"] = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not update.get("enabled", config.enabled):
        raise ValueError("--strategies needs at least one template (K1..K5)")
    if not update.get("symbols", config.symbols):
        raise ValueError("--symbols needs at least one symbol")
    narrowed = StrategyConfig.model_validate({**config.model_dump(), **update})
    StrategyLibrary(narrowed)
    return BotPlugin(narrowed)
