"""The trader's confirming dialogs: each asks, and on yes runs one engine command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.tui import format as fmt
from console.tui import state
from console.tui.screens.modals import (
    ConfirmScreen,
    KillConfirmScreen,
    QuitConfirmScreen,
    ReasonScreen,
)
from console.tui.text import printable
from contracts.enums import DriftResolution, LifecycleState
from engine.results import CommandResult

if TYPE_CHECKING:  # the panels and the engine's models load after the console's first frame
    from console.tui.app import DeskgateApp
    from contracts.events import DriftDetected
    from engine.view import OrderView, PendingApproval, PositionView

RESOLVE_DRIFT = "resolve drift"


def resolution_meaning(resolution: DriftResolution) -> str:
    """What resolving a drift this way does, as a sentence."""
    from console.tui.widgets.drift import RESOLUTIONS

    return next(text[:1].upper() + text[1:] for _, res, _, text in RESOLUTIONS if res is resolution)


def ask_reject(app: DeskgateApp, pending: PendingApproval) -> None:
    from console.tui.widgets.approvals import trade_text

    intent_id = pending.intent.intent_id
    headline = f"{trade_text(pending)} ({intent_id})"

    def done(reason: str | None) -> None:
        if reason is not None:
            app.command(
                "reject",
                f"reject:{intent_id}",
                lambda: app.engine.reject(intent_id, reason),
                subject=headline,
            )

    app.push_screen(
        ReasonScreen(
            f"Reject {headline}", "Why? (optional, goes to the audit log)", required=False
        ),
        callback=done,
    )


def ask_kill(app: DeskgateApp) -> None:
    """The kill switch's dialog; only its own keys (the kill key again, or y) confirm."""

    def done(confirmed: bool | None) -> None:
        if confirmed:
            app.command(
                "kill", "kill", lambda: app.engine.kill("kill switch (console)", actor="trader")
            )

    kill_keys = tuple(k.strip() for k in app.keymap["kill"].split(","))
    app.push_screen(
        KillConfirmScreen(
            kill_keys,
            app.key_display("kill"),
            state.orders_at_broker(app.snapshot),
            app.clock.monotonic,
        ),
        callback=done,
    )


def ask_flatten(app: DeskgateApp) -> None:
    """Lists every open position it will close, with the right count."""
    snap = app.snapshot
    open_positions = [p for p in snap.positions if p.quantity] if snap else []
    count = len(open_positions)
    listed = "\n".join(
        f"  {'SELL' if p.quantity > 0 else 'BUY'} {fmt.qty(abs(p.quantity))} {printable(p.symbol)}"
        for p in open_positions
    )

    def done(confirmed: bool | None) -> None:
        if confirmed:
            app.command(
                "flatten",
                "flatten",
                lambda: app.engine.flatten("flatten (console)", actor="trader"),
            )

    app.push_screen(
        ConfirmScreen(
            "FLATTEN",
            f"Close {count} open position{'s' if count != 1 else ''} at market:\n{listed}"
            if count
            else "No open positions: flatten sends nothing.",
            danger=True,
        ),
        callback=done,
    )


def order_headline(order: OrderView) -> str:
    return (
        f"{order.side.value} {fmt.qty(order.requested - order.filled)} {order.symbol}"
        f" {order.order_type.value} {fmt.price(order.limit_price or order.stop_price)}"
        f" ({order.intent_id}, {order.state.value})"
    )


def ask_cancel_order(app: DeskgateApp, order: OrderView) -> None:
    """One `y` cancels; the order leaves the live list only when the broker confirms."""
    intent_id = order.intent_id
    headline = printable(order_headline(order))

    def done(confirmed: bool | None) -> None:
        if confirmed:
            app.command(
                "cancel",
                f"cancel:{intent_id}",
                lambda: app.engine.cancel(intent_id, "cancelled by the trader (console)"),
                subject=headline,
            )

    app.push_screen(
        ConfirmScreen("CANCEL ORDER", f"Cancel {headline}?", danger=True), callback=done
    )


def ask_close_position(app: DeskgateApp, position: PositionView) -> None:
    """`x` in Positions: one reducing MARKET order for the whole position (flatten's path),
    after the symbol's live orders are cancelled; one `y` confirms what is listed."""
    symbol = position.symbol
    side = "SELL" if position.quantity > 0 else "BUY"
    sends = printable(f"{side} {fmt.qty(abs(position.quantity))} {symbol} MKT")
    working = [
        o
        for o in (app.snapshot.orders if app.snapshot else ())
        if o.symbol == symbol and o.state.is_working
    ]
    cancels = "".join(
        f"\n  cancel the stop/target of {printable(o.intent_id)}"
        if o.state is LifecycleState.MANAGED
        else f"\n  cancel {printable(order_headline(o))}"
        for o in working
    )

    def done(confirmed: bool | None) -> None:
        if confirmed:
            app.command(
                "close",
                f"close:{symbol}",
                lambda: app.engine.close_position(symbol, "close position (console)", "trader"),
                subject=sends,
            )

    app.push_screen(
        ConfirmScreen(
            f"CLOSE {printable(symbol)}",
            f"Sends one reducing market order:\n  {sends}{cancels}\n"
            f"(and cancels every live {printable(symbol)} order at the broker first)",
            danger=True,
        ),
        callback=done,
    )


def ask_rearm(app: DeskgateApp) -> None:
    def done(reason: str | None) -> None:
        if reason:
            app.command("rearm", "rearm", lambda: app.engine.rearm(reason, actor="trader"))

    app.push_screen(
        ReasonScreen(
            "RE-ARM TRADING",
            "Trading is halted. Type why it is safe to resume:",
            required=True,
            danger=True,
        ),
        callback=done,
    )


def ask_rollback(app: DeskgateApp) -> None:
    def done(reason: str | None) -> None:
        if reason:
            app.command("rollback", "rollback", lambda: rollback_with_report(app, reason))

    app.push_screen(
        ReasonScreen(
            "ROLLBACK",
            "Halt, cancel every order, flatten every position and verify. Type why:",
            required=True,
            danger=True,
        ),
        callback=done,
    )


async def rollback_with_report(app: DeskgateApp, reason: str) -> CommandResult:
    """Run the rollback, then write its incident report under the data dir."""
    from engine.rollback import write_incident

    out_dir = app.config.resolved_data_dir() / "incidents"
    result = await app.engine.rollback(reason, "trader")
    done = app.engine.last_rollback
    if done is None:
        return result
    snap = app.engine.snapshot()
    report = write_incident(
        out_dir,
        done,
        {
            "Broker": f"{snap.connection.broker} ({snap.connection.account_id or '?'})",
            "Mode": snap.mode.value,
            "Trading state after": snap.trading_state.value,
        },
    )
    return CommandResult(result.ok, f"{result.message} - report {report}", result.code)


def ask_drift_note(app: DeskgateApp, drift: DriftDetected, resolution: DriftResolution) -> None:
    """Ask for the (required) note, then resolve; escape leaves the drift unresolved."""
    from console.tui.widgets.drift import side_text

    def done(note: str | None) -> None:
        if note:
            drift_id = drift.drift_id
            app.command(
                RESOLVE_DRIFT,
                f"drift:{drift_id}",
                lambda: app.engine.resolve_drift(drift_id, resolution, note, actor="trader"),
            )

    app.push_screen(
        ReasonScreen(
            printable(f"{resolution.value} - drift {drift.drift_id}"),
            f"{drift.drift_type.value} {printable(drift.subject)} ({drift.severity.value})\n"
            f"  engine: {side_text(drift.engine_state)}\n"
            f"  broker: {side_text(drift.broker_state)}\n\n"
            f"{resolution_meaning(resolution)}.\n"
            "Type a note for the audit log (required):",
            required=True,
            danger=True,
            noun="note",
        ),
        callback=done,
    )


def ask_quit(app: DeskgateApp, working: int) -> None:
    """Working orders stay working after quit: say so before leaving."""

    async def done(confirmed: bool | None) -> None:
        if confirmed:
            await app.shutdown()

    app.push_screen(
        QuitConfirmScreen(
            "QUIT",
            f"{working} order(s) are working at the broker and STAY working after you quit."
            " Quit anyway?",
            danger=True,
        ),
        callback=done,
    )
