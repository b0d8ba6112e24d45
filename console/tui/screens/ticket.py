"""The order ticket (`n`, and `m` to replace): typed fields checked as typed, sent for approval."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from console.tui import format as fmt
from console.tui.engine_api import ConsoleEngine
from console.tui.screens.modals import TEXT_DIALOG_HINT
from console.tui.text import printable
from console.tui.widgets.ordered_input import OrderedInput
from contracts.broker import Quote
from contracts.config import RiskConfig
from contracts.enums import OrderType, Side
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from contracts.market import ContractFacts
from engine.clock import Clock
from engine.instruments import nearest_on_grid, off_grid
from engine.manual import MANUAL_STRATEGY, ContractLookup
from engine.results import CommandResult
from engine.risk import notional_cap, two_sided
from engine.view import OrderView

if TYPE_CHECKING:
    from console.tui.app import DeskgateApp

SIDES = {"B": Side.BUY, "BUY": Side.BUY, "S": Side.SELL, "SELL": Side.SELL}
TYPES = {
    "LMT": OrderType.LIMIT,
    "L": OrderType.LIMIT,
    "MKT": OrderType.MARKET,
    "M": OrderType.MARKET,
    "STP": OrderType.STOP,
}
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("symbol", "Symbol", "KO"),
    ("side", "Side", "BUY/SELL"),
    ("quantity", "Qty", "100"),
    ("order_type", "Type", "LMT/MKT/STP"),
    ("price", "Price", "limit or stop"),
    ("stop_loss", "Stop", "stop loss"),
    ("take_profit", "Target", "take profit"),
)


@dataclass(frozen=True)
class TicketForm:
    """The ticket's fields exactly as typed."""

    symbol: str = ""
    side: str = "BUY"
    quantity: str = ""
    order_type: str = "LMT"
    price: str = ""
    stop_loss: str = ""
    take_profit: str = ""


@dataclass(frozen=True)
class TicketCheck:
    """What the ticket shows under the fields: each line passed or not; `order` is set only
    when every field is valid (the only thing that can be sent for approval)."""

    lines: tuple[tuple[bool, str], ...]
    order: OrderParams | None

    @property
    def ok(self) -> bool:
        return self.order is not None and all(ok for ok, _ in self.lines)


def form_for(order: OrderView) -> TicketForm:
    """A replacement's ticket: the working order's fields, for what is left of it."""
    return TicketForm(
        symbol=order.symbol,
        side=order.side.value,
        quantity=fmt.qty(order.requested - order.filled),
        order_type=order.order_type.value,
        price=str(order.limit_price or order.stop_price or ""),
        stop_loss=str(order.stop_loss or ""),
        take_profit=str(order.take_profit or ""),
    )


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _grid(name: str, value: Decimal, step: Decimal) -> tuple[bool, str]:
    if off_grid(value, step):
        below, above = nearest_on_grid(value, step)
        return False, f"{name} {value} is off the {step} tick grid: nearest {below} or {above}"
    return True, f"{name} {fmt.price(value)} on the {step} grid"


def validate(
    form: TicketForm, lookup: ContractLookup | None, quote: Quote | None, risk: RiskConfig
) -> TicketCheck:
    """Check a ticket against the broker's contract facts, the quote and the risk limits."""
    lines: list[tuple[bool, str]] = []
    symbol = form.symbol.strip().upper()
    facts: ContractFacts | None = lookup.facts if lookup is not None else None
    if not symbol:
        return TicketCheck(((False, "type a symbol"),), None)
    if lookup is None:
        return TicketCheck(((False, f"{symbol}: asking the broker for the contract…"),), None)
    if facts is None:
        return TicketCheck(((False, f"{symbol}: {lookup.detail}"),), None)
    side = SIDES.get(form.side.strip().upper())
    order_type = TYPES.get(form.order_type.strip().upper())
    quantity = _number(form.quantity)
    price = _number(form.price) if form.price.strip() else None
    stop = _number(form.stop_loss) if form.stop_loss.strip() else None
    target = _number(form.take_profit) if form.take_profit.strip() else None
    if side is None:
        lines.append((False, f"side {form.side!r}: BUY or SELL"))
    if order_type is None:
        lines.append((False, f"type {form.order_type!r}: LMT, MKT or STP"))
    if quantity is None or quantity <= 0:
        lines.append((False, f"quantity {form.quantity!r}: a positive number"))
    for name, text, value in (
        ("price", form.price, price),
        ("stop", form.stop_loss, stop),
        ("target", form.take_profit, target),
    ):
        if text.strip() and (value is None or value <= 0):
            lines.append((False, f"{name} {text!r}: a positive price"))
    if lines or side is None or order_type is None or quantity is None:
        return TicketCheck(tuple(lines), None)
    priced = (price is None) == (order_type is OrderType.MARKET)
    if order_type is OrderType.MARKET and price is not None:
        lines.append((False, "a MKT order takes no price: clear it or choose LMT"))
    if order_type is not OrderType.MARKET and price is None:
        lines.append((False, f"a {order_type.value} order needs a price"))
    step = facts.size_increment
    if off_grid(quantity, step):
        below, above = nearest_on_grid(quantity, step)
        near = " or ".join(str(v) for v in (below, above) if v > 0)
        lines.append((False, f"quantity {quantity} is not a multiple of {step}: nearest {near}"))
    lines.append(
        (
            quantity <= risk.max_order_quantity,
            f"quantity {fmt.qty(quantity)} (max {fmt.qty(risk.max_order_quantity)})",
        )
    )
    for name, value in (("price", price), ("stop", stop), ("target", target)):
        if value is not None:
            lines.append(_grid(name, value, facts.min_tick))
    buy = side is Side.BUY
    touch = None
    if two_sided(quote):
        assert quote is not None and quote.bid is not None and quote.ask is not None
        touch = quote.ask if buy else quote.bid
        mid = (quote.bid + quote.ask) / 2
        market = f"bid {fmt.price(quote.bid)} / ask {fmt.price(quote.ask)}"
        if price is not None:
            off = abs(price - mid) / mid * 100
            lines.append(
                (
                    off <= Decimal(str(risk.price_collar_pct)),
                    f"{market} · {fmt.price(price)} is {off:.2f}% from mid "
                    f"(collar {risk.price_collar_pct}%)",
                )
            )
        else:
            lines.append((True, market))
        through = stop is not None and (stop >= quote.bid if buy else stop <= quote.ask)
        if through:
            touched = "bid" if buy else "ask"
            lines.append((False, f"stop {stop} is already through the {touched}: it triggers"))
    else:
        lines.append((False, f"no two-sided quote for {symbol}"))
    entry = price if price is not None else touch
    mult = facts.multiplier
    if entry is not None:
        notional = quantity * entry * mult
        cap = notional_cap(risk, facts.sec_type)
        lines.append((notional <= cap, f"notional ${fmt.money(notional)} (max ${fmt.money(cap)})"))
        if stop is not None:
            at_risk = abs(entry - stop) * quantity * mult
            lines.append(
                (
                    at_risk <= risk.max_risk_per_trade,
                    f"risk ${fmt.money(at_risk)} to the stop "
                    f"(max ${fmt.money(risk.max_risk_per_trade)})",
                )
            )
    if stop is None:
        lines.append(
            (not risk.require_stop, "no stop" + (" (required)" if risk.require_stop else ""))
        )
    if not priced:
        return TicketCheck(tuple(lines), None)
    instrument = Instrument(
        symbol=symbol,
        sec_type=facts.sec_type,
        exchange=lookup.instrument.exchange,
        currency=facts.currency,
        con_id=facts.con_id,
        expiry=lookup.instrument.expiry,
    )
    try:
        order = OrderParams(
            instrument=instrument,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
            stop_loss=stop,
            take_profit=target,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        lines.append((False, str(first.get("msg", exc)).removeprefix("Value error, ")))
        return TicketCheck(tuple(lines), None)
    return TicketCheck(tuple(lines), order)


def ticket_intent(order: OrderParams, clock: Clock, replaces: str | None) -> Intent:
    """The ticket's intent: strategy `manual`, approved through the token like any other."""
    now = clock.now()
    symbol = order.instrument.symbol.replace(" ", "")
    notes = "manual ticket (console)" + (f": replaces {replaces}" if replaces else "")
    return Intent(
        intent_id=f"manual-{symbol}-{now.strftime('%H%M%S%f')}"[:48],
        strategy=MANUAL_STRATEGY,
        order=order,
        state_hash="manual-ticket",
        state_ts=now,
        evidence=Evidence(setup_quality=0, htf_alignment=False, ltf_alignment=False, notes=notes),
    )


@dataclass(frozen=True)
class TicketResult:
    """What the ticket hands back: the intent to propose, and the order it replaces."""

    intent: Intent
    replaces: str | None


class TicketScreen(ModalScreen[TicketResult | None]):
    """Typed fields (every printable key is text, K too); enter sends for approval only when
    every check passes; escape closes; ctrl+k still kills (the app's chord)."""

    DEFAULT_CSS = """
    TicketScreen #dialog { width: 78; max-height: 100%; }
    TicketScreen #ticket-fields {
        grid-size: 4; grid-columns: 1fr 1fr 1fr 1fr; grid-gutter: 0 1; height: auto;
    }
    TicketScreen .ticket-field { height: 2; }
    TicketScreen .ticket-field Label { color: $text-muted; }
    TicketScreen .ticket-field Input { width: 1fr; }
    TicketScreen #ticket-checks { height: auto; margin: 1 0 0 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("tab", "field(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "field(-1)", "Previous field", show=False, priority=True),
    ]
    """Its own tab keys (the app's focus keys do not reach past a dialog), checked before the
    field sees the key: the keys typed right after a tab go to the next field."""

    def __init__(
        self,
        engine: ConsoleEngine,
        risk: RiskConfig,
        clock: Clock,
        form: TicketForm | None = None,
        replaces: OrderView | None = None,
    ) -> None:
        super().__init__(id="ticket")
        self.engine = engine
        self.risk = risk
        self.clock = clock
        self.form = form or TicketForm()
        self.replacing = replaces
        self.lookup: ContractLookup | None = None
        self.check = validate(self.form, None, None, risk)

    def compose(self) -> ComposeResult:
        title = "ORDER TICKET"
        if self.replacing is not None:
            title = f"REPLACE {self.replacing.intent_id} (needs a new approval)"
        with Vertical(id="dialog"):
            yield Static(printable(title), id="dialog-title", markup=False)
            with Grid(id="ticket-fields"):
                for key, label, placeholder in FIELDS:
                    with Vertical(classes="ticket-field"):
                        yield Label(label)
                        yield OrderedInput(
                            getattr(self.form, key),
                            placeholder=placeholder,
                            id=f"t-{key}",
                            compact=True,
                            disabled=key == "symbol" and self.replacing is not None,
                        )
            yield Static("", id="ticket-checks")
            yield Static("", id="dialog-error", markup=False)
            yield Static(
                TEXT_DIALOG_HINT.format(submit="send for approval", cancel="close"),
                id="dialog-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#t-side" if self.replacing else "#t-symbol", Input).focus()
        self.set_interval(1.0, self._recheck, name="ticket-quote")
        if self.form.symbol:
            self._look_up(self.form.symbol)
        self._recheck()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("t-")
        if key not in TicketForm.__dataclass_fields__:
            return
        self.form = replace(self.form, **{key: event.value})
        if key == "symbol":
            self.lookup = None
            self._look_up(event.value)
        self._recheck()

    @work(exclusive=True, group="ticket-lookup", exit_on_error=False)
    async def _look_up(self, symbol: str) -> None:
        symbol = symbol.strip().upper()
        if not symbol:
            return
        try:
            found = await self.engine.lookup_contract(symbol)
        except Exception as exc:  # shown, never raised into the app
            found = ContractLookup(Instrument(symbol="X"), None, f"lookup failed: {exc}")
        if self.form.symbol.strip().upper() == symbol:
            self.lookup = found
            self._recheck()

    def _recheck(self) -> None:
        """Re-validate against the latest quote, then ask the engine's own checks."""
        symbol = self.form.symbol.strip().upper()
        quote = self.engine.quote(symbol) if symbol and self.lookup is not None else None
        check = validate(self.form, self.lookup, quote, self.risk)
        if check.order is not None:
            intent = ticket_intent(check.order, self.clock, self._replaces_id)
            engine_says = [
                (False, f"engine: {c.name}: {c.detail}")
                for c in self.engine.check_intent(intent)
                if not c.passed
            ]
            check = TicketCheck((*check.lines, *engine_says), check.order)
        self.check = check
        text = Text()
        for ok, line in check.lines:
            text.append("✓ " if ok else "✗ ", style="green" if ok else "bold red")
            text.append(printable(line) + "\n")
        self.query_one("#ticket-checks", Static).update(text)

    @property
    def _replaces_id(self) -> str | None:
        return self.replacing.intent_id if self.replacing is not None else None

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._recheck()
        error = self.query_one("#dialog-error", Static)
        if not self.check.ok or self.check.order is None:
            failed = [line for ok, line in self.check.lines if not ok]
            error.update(printable(f"Not sent: {failed[0] if failed else 'incomplete'}"))
            self.app.bell()
            return
        intent = ticket_intent(self.check.order, self.clock, self._replaces_id)
        self.dismiss(TicketResult(intent, self._replaces_id))

    def action_field(self, step: int) -> None:
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_ticket(app: DeskgateApp, replaces: OrderView | None = None) -> None:
    """`n` (a new order) or `m` (replace the selected working order): the ticket's intent is
    proposed and waits in Approvals for the token like any other; nothing is sent from here."""

    def done(result: TicketResult | None) -> None:
        if result is None:
            return
        intent = result.intent
        replaced = f" replacing {result.replaces}" if result.replaces else ""

        async def propose() -> CommandResult:
            proposal = await app.engine.propose_manual(intent, result.replaces)
            return CommandResult(proposal.accepted, proposal.message)

        app.command(
            "ticket",
            f"ticket:{intent.intent_id}",
            propose,
            subject=printable(f"{trade_line(intent.order)}{replaced} ({intent.intent_id})"),
        )

    form = form_for(replaces) if replaces is not None else None
    app.push_screen(
        TicketScreen(app.engine, app.config.risk, app.clock, form, replaces), callback=done
    )


def trade_line(order: OrderParams) -> str:
    px = order.limit_price or order.stop_price
    at = f" {order.order_type.value} {fmt.price(px)}" if px is not None else " MKT"
    return f"{order.side.value} {fmt.qty(order.quantity)} {order.instrument.symbol}{at}"
