"""The evidence panel: everything behind the selected pending trade, and whether `a` works."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.tui import format as fmt
from console.tui.text import printable, shown
from console.tui.widgets.laid_out import LaidOutStatic
from contracts.broker import Quote
from contracts.config import StaleConfig
from contracts.enums import Regime, Side
from contracts.intent import OrderParams
from contracts.market import FuturesCalendar
from engine.previews import OrderPreview, PreviewStatus
from engine.view import KillFlagView, PendingApproval

OK = Text("✓", style="bold green")
FAIL = Text("✗", style="bold red")


def ttl_seconds(stale: StaleConfig, regime: Regime) -> float:
    """The intent's time-to-live for its market regime (config `[stale]`)."""
    minutes = {
        Regime.NORMAL: stale.ttl_normal_min,
        Regime.HIGH_VOLATILITY: stale.ttl_high_volatility_min,
        Regime.NEAR_NEWS: stale.ttl_near_news_min,
    }[regime]
    return minutes * 60


def mark(passed: bool) -> Text:
    return OK.copy() if passed else FAIL.copy()


def quality_bar(score: float, width: int = 10) -> Text:
    filled = round(score / 100 * width)
    style = "green" if score >= 70 else ("#ffaf00" if score >= 50 else "red")
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


@dataclass(frozen=True)
class EvidenceView:
    """What the panel shows: the pending trade, the clocks and why approve is blocked."""

    pending: PendingApproval | None
    now: datetime
    now_mono: float
    blocker: str | None
    approve_key: str
    kill_flags: tuple[KillFlagView, ...] = ()
    quote: Quote | None = None


@dataclass(frozen=True)
class EvidenceParts:
    """The panel in four parts: two one-line parts that tick every second (no re-layout),
    the body that changes only with the trade, and the approve verdict."""

    head: Text
    market: Text
    freshness: RenderableType
    body: RenderableType
    verdict: Text


LABEL_WIDTH = 11


def _label_grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold #87afd7", no_wrap=True, width=LABEL_WIDTH)
    grid.add_column(ratio=1)
    return grid


def render_evidence(view: EvidenceView, stale: StaleConfig) -> EvidenceParts:
    """The panel's content as Rich renderables (pure; tested directly)."""
    pending = view.pending
    if pending is None:
        return EvidenceParts(
            Text("No pending trade selected.", style="dim"),
            Text(""),
            Text(""),
            Text(""),
            _verdict(view),
        )
    intent = pending.intent
    order = intent.order
    ev = intent.evidence
    entry = order.limit_price or order.stop_price

    head = Text(no_wrap=True, overflow="ellipsis")
    head.append(
        f" {order.side.value} ",
        style="bold white on #005f00" if order.side.value == "BUY" else "bold white on #870000",
    )
    head.append(f" {fmt.qty(order.quantity)} {printable(order.instrument.symbol)} ", style="bold")
    head.append(f"{order.order_type.value}")
    if entry is not None:
        head.append(f" {fmt.price(entry)}", style="bold")
    head.append(f" {order.tif.value}  ")
    head.append("token ")
    left = pending.seconds_left(view.now_mono)
    head.append(
        fmt.countdown(left),
        style="bold red" if left <= 0 else ("bold #ffaf00" if left < 60 else "bold"),
    )

    fresh = _label_grid()
    fresh.add_row("Freshness", _freshness(view, stale))

    grid = _label_grid()
    grid.add_row(
        "Intent",
        shown(
            f"{intent.intent_id} · {intent.strategy} · {intent.regime.value}"
            f"{' · reduces risk' if intent.reduces_risk else ''}"
        ),
    )
    if pending.futures is not None:
        grid.add_row("Contract", contract_line(pending.futures))
    if pending.preview is not None:
        grid.add_row("WhatIf", preview_line(pending.preview))
    grid.add_row(
        "Stop/target",
        _stop_target(order.stop_loss, order.take_profit, entry, order.instrument.tick_size),
    )
    if order.instrument.sec_type == "FUT" and entry is not None and order.stop_loss is not None:
        grid.add_row("Risk $", _futures_risk(order, entry, order.stop_loss))
    quality = Text(f"{ev.setup_quality:.0f}/100 ") + quality_bar(ev.setup_quality)
    if ev.quality_breakdown:
        quality.append(
            "  " + printable(" · ".join(f"{k} {v:g}" for k, v in ev.quality_breakdown.items())),
            style="dim",
        )
    grid.add_row("Quality", quality)
    grid.add_row(
        "Alignment", Text("HTF ") + mark(ev.htf_alignment) + Text("  LTF ") + mark(ev.ltf_alignment)
    )
    grid.add_row("Sizing", _sizing(pending))
    if ev.risk_parameters:
        grid.add_row(
            "Risk params",
            shown(" · ".join(f"{k} {fmt.qty(v)}" for k, v in ev.risk_parameters.items())),
        )
    grid.add_row("Red checks", _checks([(c.name, c.passed, c.detail) for c in ev.red_checks]))
    grid.add_row("Kill flags", _kill_flags(ev.active_kill_flags, view.kill_flags))
    grid.add_row("Risk checks", _checks([(c.name, c.passed, c.detail) for c in pending.checks]))
    if ev.notes:
        grid.add_row("Notes", shown(ev.notes, style="italic"))

    return EvidenceParts(head, market_line(order, view.quote), fresh, grid, _verdict(view))


def market_line(order: OrderParams, quote: Quote | None) -> Text:
    """Two lines that fit a 60-column panel: `bid 190.42 / ask 190.44 · limit 16c through the
    ask`, then `notional $9,530 · risk $5.00`, led by the stop when the market is already
    through it."""
    line = Text(no_wrap=True, overflow="ellipsis")
    buy = order.side is Side.BUY
    entry = order.limit_price or order.stop_price
    second: list[Text] = []
    if quote is None or quote.bid is None or quote.ask is None:
        line.append("no quote", style="bold #ffaf00")
    else:
        line.append(f"bid {fmt.price(quote.bid)} / ask {fmt.price(quote.ask)}", style="bold")
        if order.limit_price is not None:
            line.append(" · ")
            line.append_text(
                _limit_vs_market(order.limit_price, quote.ask if buy else quote.bid, buy)
            )
        if order.stop_loss is not None and (
            order.stop_loss >= quote.bid if buy else order.stop_loss <= quote.ask
        ):
            side = "bid" if buy else "ask"
            second.append(
                Text(
                    f"STOP {fmt.price(order.stop_loss)} {'≥' if buy else '≤'} {side}",
                    style="bold white on #d70000",
                )
            )
        entry = entry or (quote.ask if buy else quote.bid)
    if entry is not None:
        second.append(Text(f"notional ${fmt.money(order.quantity * entry)}"))
        if order.stop_loss is not None:
            risk = order.quantity * abs(entry - order.stop_loss)
            second.append(Text(f"risk ${fmt.money(risk)}"))
    if second:
        line.append("\n")
        line.append_text(Text(" · ").join(second))
    return line


def _limit_vs_market(limit: Decimal, touch: Decimal, buy: bool) -> Text:
    """How far a limit sits from the side it trades against, in cents."""
    side = "ask" if buy else "bid"
    through = (limit - touch) if buy else (touch - limit)
    cents = fmt.qty(abs(through) * 100)
    if through > 0:
        return Text(f"limit {cents}c through the {side}", style="bold #ffaf00")
    if through < 0:
        return Text(f"limit {cents}c off the {side}")
    return Text(f"limit at the {side}")


def contract_line(calendar: FuturesCalendar) -> Text:
    """`MESZ6 · exp 2026-12-18 · rolls 2026-12-10 · $1.25/tick · x5`."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(printable(calendar.local_symbol), style="bold")
    text.append(f" · exp {calendar.expiry} · rolls {calendar.roll_date}")
    text.append(f" · ${fmt.money(calendar.tick_value)}/tick · x{fmt.qty(calendar.multiplier)}")
    return text


def preview_line(preview: OrderPreview) -> Text:
    """The broker's whatIf for the order `a` sends: margin change, commission, equity after;
    or why there is none yet."""
    margin = preview.preview
    if preview.status is not PreviewStatus.READY or margin is None:
        pending = preview.status is PreviewStatus.PENDING
        return shown(preview.line, style="dim" if pending else "bold #ffaf00")
    text = Text()
    text.append(f"init {fmt.money(margin.init_margin_change, signed=True)}", style="bold")
    text.append(f" · maint {fmt.money(margin.maint_margin_change, signed=True)}")
    commission = "-" if margin.commission is None else fmt.money(margin.commission)
    text.append(f" · comm {commission}")
    text.append(f" · EWL after {fmt.money(margin.equity_with_loan_after)} {margin.currency}")
    if margin.warning:
        text.append("\n")
        text.append_text(shown(margin.warning, style="bold #ffaf00"))
    return text


def _futures_risk(order: OrderParams, entry: Decimal, stop: Decimal) -> Text:
    """`12t × $1.25 × 1 = $15.00 at risk`: a future's risk to the stop in dollars."""
    tick, multiplier = order.instrument.tick_size, order.instrument.multiplier
    if tick is None or multiplier is None:  # the master fills both before an intent is offered
        return Text("contract facts not resolved: risk unknown", style="bold red")
    per_tick = tick * multiplier
    ticks = abs(entry - stop) / tick
    risk = ticks * per_tick * order.quantity
    return Text(
        f"{ticks:.0f}t × ${fmt.money(per_tick)}/tick × {fmt.qty(order.quantity)} = "
        f"${fmt.money(risk)} at risk"
    )


def _stop_target(
    stop: Decimal | None, target: Decimal | None, entry: Decimal | None, tick: Decimal | None
) -> Text:
    text = Text()
    if stop is None:
        text.append("NO STOP", style="bold red")
    else:
        text.append(f"stop {fmt.price(stop)}")
        if entry is not None and tick:
            text.append(f" ({abs(entry - stop) / tick:.0f}t)", style="dim")
    text.append("  ")
    if target is None:
        text.append("no target", style="dim")
    else:
        text.append(f"target {fmt.price(target)}")
    if entry is not None and stop is not None and target is not None and entry != stop:
        text.append(f"  R:R {abs(target - entry) / abs(entry - stop):.1f}", style="bold")
    return text


def _freshness(view: EvidenceView, stale: StaleConfig) -> Text:
    assert view.pending is not None
    intent = view.pending.intent
    age_s = fmt.since(view.now, intent.state_ts) or 0.0
    ttl = ttl_seconds(stale, intent.regime)
    fresh = age_s <= ttl
    text = mark(fresh) + Text(f" {fmt.age(age_s)} old / TTL {fmt.duration(ttl)}")
    text.no_wrap = True
    text.overflow = "ellipsis"
    if not fresh:
        text.append(" STALE", style="bold red")
    return text


def _sizing(pending: PendingApproval) -> Text:
    sizing = pending.intent.evidence.sizing
    if sizing is None:
        return Text("not provided", style="#ffaf00")
    text = Text(
        f"{fmt.money(sizing.account_equity)} × {(sizing.risk_fraction * 100).normalize():f}% = "
        f"{fmt.money(sizing.risk_budget)} ÷ {fmt.price(sizing.per_share_risk)} = "
        f"{fmt.qty(sizing.computed_quantity)}"
    )
    qty = pending.intent.order.quantity
    if qty != sizing.computed_quantity:
        text.append(f" (order {fmt.qty(qty)})", style="bold #ffaf00")
    text.append(f"  [{printable(sizing.formula)}]", style="dim")
    return text


def _checks(checks: list[tuple[str, bool, str]]) -> Text:
    """Failed checks first, each with its detail; passed ones as one line of names."""
    if not checks:
        return Text("none", style="dim")
    text = Text()
    failed = [c for c in checks if not c[1]]
    passed = [c for c in checks if c[1]]
    for name, _, detail in failed:
        if text:
            text.append("\n")
        text.append("✗ ", style="bold red")
        text.append(printable(name), style="bold red")
        if detail:
            text.append(f": {printable(detail)}")
    if passed:
        if text:
            text.append("\n")
        text.append("✓ ", style="bold green")
        text.append(printable(" · ".join(name for name, _, _ in passed)), style="green")
    return text


def _kill_flags(strategy_flags: tuple[str, ...], engine_flags: tuple[KillFlagView, ...]) -> Text:
    if not strategy_flags and not engine_flags:
        return OK.copy() + Text(" none")
    text = Text()
    for flag in engine_flags:
        if text:
            text.append("\n")
        text.append(f"■ {printable(flag.flag)}", style="bold red")
        text.append(f": {printable(flag.reason)}")
    for name in strategy_flags:
        if text:
            text.append("\n")
        text.append(f"■ {printable(name)}", style="bold red")
        text.append(" (strategy)", style="dim")
    return text


def _verdict(view: EvidenceView) -> Text:
    if view.blocker is None:
        return Text.assemble(
            (f" [{view.approve_key}] APPROVE ", "bold black on #5fd75f"), "  ready"
        )
    return Text.assemble(
        (" APPROVE UNAVAILABLE ", "bold white on #870000"), " ", (printable(view.blocker), "bold")
    )


BODY_REWORD_S = 1.0
"""The risk checks re-word with every price (the collar's distance, the quote's age): the body
is redrawn for a new wording at most this often. A new trade, a check turning pass or fail, a
new preview or kill flag shows at once."""


def _body_essence(view: EvidenceView) -> object:
    """What in the body must show at once: everything but the wording of the checks."""
    pending = view.pending
    if pending is None:
        return (None, view.kill_flags)
    checks = tuple((c.name, c.passed) for c in pending.checks)
    return (
        pending.intent,
        pending.token_id,
        checks,
        pending.preview,
        pending.futures,
        view.kill_flags,
    )


def _intent_id(pending: PendingApproval | None) -> str | None:
    return pending.intent.intent_id if pending is not None else None


class EvidencePanel(VerticalScroll):
    """Scrollable evidence for the selected pending trade.

    The countdown and the freshness age tick every second; they live in one-line widgets
    updated without a re-layout, so a tick never re-lays out the screen."""

    DEFAULT_CSS = """
    EvidencePanel { height: 1fr; }
    EvidencePanel > Static { width: 1fr; }
    EvidencePanel > #evidence-head, EvidencePanel > #evidence-fresh { height: 1; }
    EvidencePanel > #evidence-market { height: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, stale: StaleConfig, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)
        self.stale = stale
        self.view: EvidenceView | None = None
        self._head = Static("", id="evidence-head")
        self._market = Static("", id="evidence-market")
        self._fresh = Static("", id="evidence-fresh")
        self._body = LaidOutStatic(id="evidence-body")
        self._verdict = LaidOutStatic(id="evidence-verdict")
        self._body_key: object = None
        self._body_essence: object = None
        self._body_at = float("-inf")
        self._verdict_key: object = None

    def compose(self) -> ComposeResult:
        yield self._head
        yield self._market
        yield self._fresh
        yield self._body
        yield self._verdict

    def show(self, view: EvidenceView) -> None:
        if view == self.view:
            return
        before = self.view.pending if self.view is not None else None
        self.view = view
        if _intent_id(before) != _intent_id(view.pending):
            self.scroll_home(animate=False)  # a new trade is read from its headline down
        parts = render_evidence(view, self.stale)
        self._head.update(parts.head, layout=False)
        self._market.update(parts.market, layout=False)
        self._fresh.update(parts.freshness, layout=False)
        body_key = (view.pending, view.kill_flags)
        if body_key != self._body_key:
            essence = _body_essence(view)
            if essence != self._body_essence or view.now_mono - self._body_at >= BODY_REWORD_S:
                self._body_key, self._body_essence, self._body_at = body_key, essence, view.now_mono
                self._update_sized(self._body, parts.body)
        verdict_key = (view.blocker, view.approve_key)
        if verdict_key != self._verdict_key:
            self._verdict_key = verdict_key
            self._update_sized(self._verdict, parts.verdict)

    def _update_sized(self, static: LaidOutStatic, content: RenderableType) -> None:
        """Update `static`, re-laying out the screen only when its height changes: the risk
        checks re-word with every price (a full re-layout each frame while a trade waits)."""
        if static.show(content):
            static.refresh(layout=True)

    def text(self) -> list[object]:
        """The current content, top to bottom (for tests and screen readers)."""
        lines = (self._head.content, self._market.content, self._fresh.content)
        return [*lines, self._body.source, self._verdict.source]
