"""The strategy runtime: bars in; signals, beliefs, quality, decisions, management, learning out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from contracts.market import ContractFacts
from contracts.strategy import StrategyConfig, StrategyMode
from engine.strategy.bars import BarView
from engine.strategy.beliefs import BeliefEngine
from engine.strategy.decision import DayBook, EntryDecision, Gate, day_limit, decide
from engine.strategy.evidence import build_intent, side_of, to_price
from engine.strategy.journal import Journal, usd
from engine.strategy.learning import LearningLoop
from engine.strategy.manager import (
    Action,
    CancelEntry,
    Exit,
    MoveStop,
    Position,
    ProposeEntry,
    RequestExit,
    RequestKill,
    RequestModify,
    StrategyStatus,
    manage,
)
from engine.strategy.outcomes import ShadowDay, shadow_session_records, trade_record
from engine.strategy.quality import DataQuality, ExecutionQuality, is_margin_call
from engine.strategy.records import RecordSink
from engine.strategy.sessions import SessionTimes, session_times
from engine.strategy.signals import SignalEngine
from engine.strategy.templates import Context, Setup, Skip, StrategyLibrary, Template
from engine.strategy.venue import EntryFilled, ExitFilled, VenueEvent, VirtualVenue


@dataclass
class _Symbol:
    facts: ContractFacts
    tick: float
    signals: SignalEngine
    beliefs: BeliefEngine
    quality: DataQuality
    shadow: VirtualVenue
    index: int = 0
    first_open: float = math.nan
    last_close: float = math.nan
    path: float = 0.0
    last_ts: datetime | None = None


class StrategyRuntime:
    """Runs the enabled templates over bars for the configured symbols.

    Call `new_session` at each session start, `on_bar` with every 1-minute bar, the `on_*`
    methods with what the engine or a venue reports, and `end_session` after the last bar.
    LIVE strategies return actions (entries to propose, exits, stop moves, kills); SHADOW ones
    (and LIVE ones in quarantine) trade on this runtime's virtual venue; OBSERVE ones journal.
    """

    def __init__(
        self,
        config: StrategyConfig,
        facts: Mapping[str, ContractFacts],
        sink: RecordSink,
        *,
        equity: Decimal,
        run_id: str = "run",
    ) -> None:
        self.config = config
        self.library = StrategyLibrary(config)
        self.learning = LearningLoop(config.learning)
        self.journal = Journal(sink, config.journal.heartbeat_bars)
        self.execution = ExecutionQuality(config.quality)
        self.equity = equity
        self.run_id = run_id
        self._sink = sink
        self._symbols: dict[str, _Symbol] = {}
        for symbol in config.symbols:
            if symbol not in facts:
                raise ValueError(f"no contract facts for {symbol}")
            f = facts[symbol]
            tick = float(f.min_tick)
            self._symbols[symbol] = _Symbol(
                f,
                tick,
                SignalEngine(config.signals),
                BeliefEngine(config.beliefs),
                DataQuality(config.quality),
                VirtualVenue(tick, config.euc.slippage_ticks),
            )
        self.positions: dict[str, Position] = {}
        self.day = DayBook()
        self.halted = ""
        self.margin_call = False
        self._shadow_days: dict[str, ShadowDay] = {}
        self._day: date | None = None
        self._times: SessionTimes | None = None
        self._flat = False
        self._window_open = False
        self._seq = 0
        self._last_dvs = 1.0

    # --- modes and status ---------------------------------------------------------------------

    def mode_of(self, strategy: str) -> StrategyMode:
        """The mode in force: a quarantined LIVE strategy trades in SHADOW."""
        mode = self.config.template(strategy).mode
        if mode is StrategyMode.LIVE and self.learning.quarantined(strategy):
            return StrategyMode.SHADOW
        return mode

    def status(self) -> list[StrategyStatus]:
        """One row per strategy for the console's strategies panel."""
        eqs = round(self.execution.score(), 3)
        last = self.journal.last_by_strategy
        return [
            StrategyStatus(
                t.name,
                self.mode_of(t.name).value,
                self.learning.quarantined(t.name),
                self.learning.friction(t.name),
                last[t.name].text if t.name in last else "",
                round(self._last_dvs, 3),
                eqs,
            )
            for t in self.library.all()
        ]

    # --- sessions -------------------------------------------------------------------------------

    def new_session(self, day: date) -> None:
        """Reset the session: levels roll, the day's limits and any session lockout clear."""
        self._day = day
        self._times = session_times(self.config.session, day)
        self._flat = False
        self._window_open = False
        self.day = DayBook()
        self.halted = ""
        self._shadow_days = {}
        for st in self._symbols.values():
            st.signals.new_session(self._times.rth_open)
            st.quality.new_session()
            st.first_open = math.nan
            st.path = 0.0

    def end_session(self, ts: datetime, *, record: bool = True) -> list[Action]:
        """Close everything: live positions through actions, shadow ones at the last close.

        `record` writes the shadow sessions (after the session's last bar)."""
        actions: list[Action] = []
        for pos in list(self.positions.values()):
            if pos.mode == "shadow":
                continue
            if pos.filled:
                if not pos.exit_requested:
                    pos.exit_requested = "session_end"
                    actions.append(self._exit_action(pos, "session_end", "the session ends"))
            else:
                del self.positions[pos.trade_id]
                actions.append(CancelEntry(pos.trade_id, "session end"))
        for symbol, st in self._symbols.items():
            if not math.isnan(st.last_close):
                for ev in st.shadow.close_all(st.last_close, ts, "session_end"):
                    self.apply_venue_event(ev)
            for pos in [p for p in self.positions.values() if p.symbol == symbol]:
                if pos.mode == "shadow":
                    del self.positions[pos.trade_id]
        if record:
            self._record_shadow_sessions()
        return actions

    def _record_shadow_sessions(self) -> None:
        if self._day is None:
            return
        st = next(iter(self._symbols.values()))
        efficiency = abs(st.last_close - st.first_open) / st.path if st.path > 0 else 0.0
        trend = efficiency >= self.config.signals.trend_session_efficiency
        for record in shadow_session_records(
            self._shadow_days, self._day, "trend" if trend else "range", self.equity
        ):
            self._sink(record)

    # --- what the engine / venue reports ----------------------------------------------------------

    def on_account(
        self, equity: Decimal | None, cushion: float | None, available_funds: float | None
    ) -> None:
        if equity is not None and equity > 0:
            self.equity = equity
        self.margin_call = is_margin_call(
            cushion, available_funds, self.config.quality.margin_call_cushion
        )

    def on_spread(self, symbol: str, bid: float, ask: float) -> None:
        st = self._symbols.get(symbol)
        if st is not None and ask >= bid > 0:
            st.quality.on_spread((ask - bid) / st.tick)

    def on_entry_filled(
        self, trade_id: str, price: float, ts: datetime, filled: int | None = None
    ) -> None:
        """The entry (or part of it: `filled` contracts so far) filled at `price`."""
        pos = self.positions.get(trade_id)
        if pos is None:
            return
        if filled is not None and 0 < filled <= pos.ordered and filled != pos.quantity:
            pos.risk_usd = pos.risk_usd / pos.quantity * filled
            pos.quantity = filled
        if pos.filled:
            return
        st = self._symbols[pos.symbol]
        self.execution.on_fill((pos.entry - price) * -pos.side / st.tick)
        pos.filled, pos.entry, pos.entry_ts = True, price, ts
        if pos.mode == "live":
            self.day.trades += 1
        else:
            self._shadow_day(pos.strategy).book.trades += 1

    def on_entry_cancelled(self, trade_id: str, reason: str, ts: datetime) -> None:
        pos = self.positions.get(trade_id)
        if pos is not None and not pos.filled:
            del self.positions[trade_id]
            self.journal.write(
                ts,
                pos.strategy,
                pos.symbol,
                pos.mode.upper(),
                "CANCEL",
                "entry_cancelled",
                f"{pos.strategy} entry {trade_id} cancelled: {reason}",
                trade_id,
            )

    def on_reject(self) -> None:
        self.execution.on_reject()

    def on_exit_filled(self, trade_id: str, price: float, ts: datetime, reason: str) -> None:
        pos = self.positions.pop(trade_id, None)
        if pos is None or not pos.filled or pos.entry_ts is None:
            return
        trade = trade_record(
            pos,
            price,
            ts,
            reason,
            self._symbols[pos.symbol].facts,
            self.config.euc.commission_per_side,
        )
        pnl = trade.pnl_usd
        code = trade.attribution
        self._sink(trade)
        if pos.mode == "live":
            self.day.record(pnl)
            self.equity += pnl  # until the broker's next account update says otherwise
        else:
            self._shadow_day(pos.strategy).record(pnl)
        self.journal.write(
            ts,
            pos.strategy,
            pos.symbol,
            pos.mode.upper(),
            "EXIT",
            f"exit_{reason}",
            f"{pos.strategy} closed {'long' if pos.side > 0 else 'short'} {pos.quantity} "
            f"{pos.symbol} at {float(trade.exit_price):,.2f} ({reason}): {usd(pnl)} "
            f"({trade.r_multiple:+.2f} R), {code}",
            trade_id,
        )
        template = self.library.get(pos.strategy)
        if template is not None:
            template.post_trade_update(trade.r_multiple, reason)
        for change in self.learning.record_trade(trade):
            self._sink(change)
            self.journal.write(
                ts,
                pos.strategy,
                pos.symbol,
                self.mode_of(pos.strategy).value,
                "SKIP",
                f"learning_{change.change.lower()}",
                f"{pos.strategy} {change.change.lower()}: {change.reason}",
            )

    def apply_venue_event(self, event: VenueEvent) -> None:
        """A fill from a virtual venue (the backtest's, or this runtime's shadow venue)."""
        if isinstance(event, EntryFilled):
            self.on_entry_filled(event.order_id, event.price, event.ts)
        elif isinstance(event, ExitFilled):
            self.on_exit_filled(event.order_id, event.price, event.ts, event.reason)

    def _shadow_day(self, strategy: str) -> ShadowDay:
        sd = self._shadow_days.get(strategy)
        if sd is None:
            sd = self._shadow_days[strategy] = ShadowDay()
        return sd

    # --- one bar ----------------------------------------------------------------------------------

    def on_bar(self, bar: BarView, now: datetime | None = None) -> list[Action]:
        """One 1-minute bar (its close): returns what the engine should do for LIVE strategies."""
        st = self._symbols.get(bar.symbol)
        if st is None:
            return []
        for ev in st.shadow.on_bar(bar):
            self.apply_venue_event(ev)
        st.index += 1
        if math.isnan(st.first_open):
            st.first_open = bar.open
        elif not math.isnan(st.last_close):
            st.path += abs(bar.close - st.last_close)
        st.last_close, st.last_ts = bar.close, bar.end
        s = st.signals.advance(bar)
        st.quality.on_bar(bar, s.atr)
        dvs = st.quality.score(now or bar.end)
        self._last_dvs = dvs
        actions: list[Action] = []
        self._kill_check(bar, dvs, actions)
        times = self._times
        if times is not None and not self._flat and bar.end >= times.flat_by:
            self._flat = True
            actions += self.end_session(bar.end, record=False)
        window = times is None or (times.may_enter(bar.end) and not self._flat)
        if window != self._window_open:
            self._window_open = window
            text = "entry window opens" if window else "entry window closed: no new entries"
            self.journal.write(bar.end, "runtime", bar.symbol, "LIVE", "SKIP", "window", text)
        if not window and not self.positions:
            return actions  # beliefs only matter to decisions and open trades
        st.signals.derive(bar)
        ctx = Context(bar.symbol, s, st.beliefs.update(s), st.tick)
        self._manage(ctx, bar, actions)
        if window and not self.halted:
            self._decide(ctx, st, bar, dvs, actions)
        return actions

    def _kill_check(self, bar: BarView, dvs: float, actions: list[Action]) -> None:
        q = self.config.quality
        reason = ""
        if dvs < q.dvs_kill:
            reason = f"data validity DVS {dvs:.2f} below {q.dvs_kill}"
        elif self.margin_call:
            reason = "margin call on the account"
        if not reason or self.halted:
            return
        self.halted = reason
        actions.append(RequestKill(reason))
        self.journal.write(
            bar.end, "runtime", bar.symbol, "LIVE", "KILL", "kill", f"kill: {reason}"
        )
        for pos in list(self.positions.values()):
            if pos.mode == "shadow":
                self._shadow_day(pos.strategy).kills += 1
                if pos.filled:
                    pos.exit_requested = "kill"
                    self._symbols[pos.symbol].shadow.request_exit(pos.trade_id, "kill")
                elif self._symbols[pos.symbol].shadow.cancel_entry(pos.trade_id):
                    del self.positions[pos.trade_id]
            elif pos.filled and not pos.exit_requested:
                pos.exit_requested = "kill"
                actions.append(self._exit_action(pos, "kill", reason))
            elif not pos.filled:
                del self.positions[pos.trade_id]
                actions.append(CancelEntry(pos.trade_id, f"kill: {reason}"))

    def _exit_action(self, pos: Position, reason: str, text: str) -> RequestExit:
        return RequestExit(pos.trade_id, pos.symbol, side_of(-pos.side), pos.quantity, reason, text)

    def _manage(self, ctx: Context, bar: BarView, actions: list[Action]) -> None:
        ttl = self.config.manager.entry_ttl_bars
        tick = self._symbols[ctx.symbol].facts.min_tick
        for pos in [p for p in self.positions.values() if p.symbol == ctx.symbol]:
            venue = self._symbols[pos.symbol].shadow
            if not pos.filled:
                pos.bars_waiting += 1
                if pos.bars_waiting < ttl:
                    continue
                if pos.mode == "shadow":
                    venue.cancel_entry(pos.trade_id)
                else:
                    actions.append(CancelEntry(pos.trade_id, f"not filled in {ttl} bars"))
                self.on_entry_cancelled(pos.trade_id, f"not filled in {ttl} bars", bar.end)
                continue
            template = self.library.get(pos.strategy)
            if template is None:
                continue
            verdict = manage(template, ctx, pos)
            if isinstance(verdict, Exit):
                pos.exit_requested = verdict.reason
                if pos.mode == "shadow":
                    venue.request_exit(pos.trade_id, verdict.reason)
                else:
                    actions.append(self._exit_action(pos, verdict.reason, verdict.text))
                self.journal.write(
                    bar.end,
                    pos.strategy,
                    pos.symbol,
                    pos.mode.upper(),
                    "EXIT",
                    f"exit_{verdict.reason}",
                    f"{pos.strategy} exit ({verdict.reason}): {verdict.text}",
                    pos.trade_id,
                )
            elif isinstance(verdict, MoveStop):
                pos.stop = verdict.stop
                if pos.mode == "shadow":
                    venue.modify(pos.trade_id, verdict.stop)
                else:
                    actions.append(
                        RequestModify(pos.trade_id, to_price(verdict.stop, tick), verdict.text)
                    )
                self.journal.write(
                    bar.end,
                    pos.strategy,
                    pos.symbol,
                    pos.mode.upper(),
                    "MODIFY",
                    "breakeven",
                    verdict.text,
                    pos.trade_id,
                )

    def _decide(
        self, ctx: Context, st: _Symbol, bar: BarView, dvs: float, actions: list[Action]
    ) -> None:
        s = ctx.signals
        eqs = self.execution.score()
        live: list[tuple[Template, EntryDecision]] = []
        live_busy = any(
            p.mode == "live" and p.symbol == ctx.symbol for p in self.positions.values()
        )
        for template in self.library.all():
            name = template.name
            mode = self.mode_of(name)
            mode_text = mode.value
            if mode is StrategyMode.SHADOW:
                self._shadow_day(name).decisions += 1
            book = self.day if mode is StrategyMode.LIVE else self._shadow_day(name).book
            limit = day_limit(self.config, name, book)
            if limit is not None:
                self.journal.skip(bar.end, name, ctx.symbol, mode_text, limit, st.index)
                continue
            result: Setup | Skip = template.detect(ctx)
            if isinstance(result, Setup):
                planned = template.plan_entry(ctx, result)
                if isinstance(planned, Skip):
                    result = planned
                else:
                    busy = (
                        live_busy
                        if mode is StrategyMode.LIVE
                        else any(
                            p.strategy == name and p.symbol == ctx.symbol and p.mode == "shadow"
                            for p in self.positions.values()
                        )
                    )
                    if busy:
                        result = Skip(
                            "busy", f"{name} skipped: a position is already open in {ctx.symbol}"
                        )
                    else:
                        book = (
                            self.day if mode is StrategyMode.LIVE else self._shadow_day(name).book
                        )
                        gate = Gate(
                            equity=self.equity,
                            dvs=dvs,
                            eqs=eqs,
                            friction=self.learning.friction(name),
                            session_minutes=s.session_minutes,
                            high_volatility=s.vol_regime >= 1.5,
                            htf_aligned=s.htf_trend == planned.side,
                        )
                        decided = decide(
                            self.config,
                            planned,
                            st.facts,
                            gate,
                            book,
                            after_loss_today=book.losses > 0,
                        )
                        if isinstance(decided, Skip):
                            result = decided
                        elif mode is StrategyMode.LIVE:
                            live.append((template, decided))
                            continue
                        elif mode is StrategyMode.SHADOW:
                            self._enter_shadow(decided, ctx, bar)
                            continue
                        else:
                            result = Skip(
                                "observe",
                                f"{name} (observe) would {side_of(planned.side).value.lower()} "
                                f"{decided.quantity} {ctx.symbol} at {planned.entry:,.2f}: "
                                f"{result.reason}",
                            )
            self.journal.skip(bar.end, name, ctx.symbol, mode_text, result, st.index)
        if live:
            live.sort(key=lambda td: (td[1].euc_ratio, td[0].name == "K5"), reverse=True)
            template, decided = live[0]
            self._enter_live(decided, ctx, st, bar, dvs, eqs, actions)
            for other, _ in live[1:]:
                self.journal.write(
                    bar.end,
                    other.name,
                    ctx.symbol,
                    "LIVE",
                    "SKIP",
                    "passed_over",
                    f"{other.name} passed over: {template.name} has the better EUC on this bar",
                )

    def _next_id(self, name: str, symbol: str, bar: BarView, prefix: str = "") -> str:
        self._seq += 1
        return f"{prefix}{name}-{symbol}-{self.run_id}-{bar.end:%m%d%H%M}-{self._seq}"

    def _position(self, trade_id: str, decided: EntryDecision, symbol: str, mode: str) -> Position:
        plan = decided.plan
        return Position(
            trade_id=trade_id,
            strategy=plan.setup.template,
            mode="live" if mode == "live" else "shadow",
            symbol=symbol,
            side=plan.side,
            quantity=decided.quantity,
            ordered=decided.quantity,
            entry=plan.entry,
            stop=plan.stop,
            initial_stop=plan.stop,
            target=plan.target,
            stop_ticks=plan.stop_ticks,
            risk_usd=decided.risk_usd,
            setup=plan.setup,
        )

    def _enter_live(
        self,
        decided: EntryDecision,
        ctx: Context,
        st: _Symbol,
        bar: BarView,
        dvs: float,
        eqs: float,
        actions: list[Action],
    ) -> None:
        plan = decided.plan
        name = plan.setup.template
        intent_id = self._next_id(name, ctx.symbol, bar)
        intent = build_intent(
            self.config,
            decided,
            st.facts,
            ctx.signals,
            ctx.beliefs,
            intent_id=intent_id,
            state_ts=bar.end,
            equity=self.equity,
            dvs=dvs,
            eqs=eqs,
            dvs_parts=st.quality.components(bar.end),
        )
        self.positions[intent_id] = self._position(intent_id, decided, ctx.symbol, "live")
        actions.append(ProposeEntry(intent, decided))
        self.journal.write(
            bar.end,
            name,
            ctx.symbol,
            "LIVE",
            "ENTER",
            "enter",
            f"{name} proposes {intent.order.side.value.lower()} {decided.quantity} {ctx.symbol} "
            f"at {plan.entry:,.2f}, stop {plan.stop:,.2f}, target {plan.target:,.2f} "
            f"(risk ${decided.risk_usd}): {plan.setup.reason}; {decided.arithmetic()}",
            intent_id,
        )

    def _enter_shadow(self, decided: EntryDecision, ctx: Context, bar: BarView) -> None:
        plan = decided.plan
        name = plan.setup.template
        trade_id = self._next_id(name, ctx.symbol, bar, prefix="sh-")
        self.positions[trade_id] = self._position(trade_id, decided, ctx.symbol, "shadow")
        self._symbols[ctx.symbol].shadow.place_entry(
            trade_id, plan.side, plan.entry, plan.stop, plan.target
        )
        self.journal.write(
            bar.end,
            name,
            ctx.symbol,
            "SHADOW",
            "SHADOW_ENTER",
            "shadow_enter",
            f"{name} (shadow) {side_of(plan.side).value.lower()} {decided.quantity} {ctx.symbol} "
            f"at {plan.entry:,.2f}, stop {plan.stop:,.2f}, target {plan.target:,.2f}: "
            f"{plan.setup.reason}",
            trade_id,
        )
