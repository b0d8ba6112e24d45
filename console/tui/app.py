"""The deskgate Textual app: engine events in through a worker, trader commands out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from console.tui.keymap import ACTIONS, PANEL_KEYS, bindings_for, keymap_from_config
from console.tui.messages import (
    QUOTE_ONLY_REASONS,
    CommandDone,
    DriftResolveWanted,
    EngineChanged,
    EngineStarted,
    EngineStartFailed,
    PendingSelected,
    StateWanted,
)
from console.tui.screens.drift import DriftScreen
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import (
    ConfirmScreen,
    KillConfirmScreen,
    LiveAccountScreen,
    ReasonScreen,
)
from console.tui.screens.views import AuditScreen, GatesScreen, HelpScreen, StateScreen
from console.tui.state import ConsoleState, approve_blocker, find_pending
from console.tui.widgets.drift import RESOLUTIONS, side_text
from contracts.config import Config
from contracts.enums import DriftResolution, Mode, TradingState
from contracts.events import DriftDetected
from engine.bus import Subscription
from engine.clock import Clock
from engine.engine import Engine
from engine.results import CommandResult
from engine.rollback import rollback_and_report
from engine.view import EngineSnapshot, PendingApproval

MAIN_ACTIONS = frozenset(spec.action for spec in ACTIONS if spec.scope == "main")
RESOLVE_DRIFT = "resolve drift"
RESOLUTION_MEANING = {res: text[:1].upper() + text[1:] for _, res, _, text in RESOLUTIONS}
STOP_TIMEOUT_S = 5.0
QUOTE_THROTTLE_S = 0.1
BUS_POLL_S = 0.005
"""While price frames are held back, how often the bus is checked for anything urgent."""
"""After a burst of price-only changes, wait this long before the next frame."""


def bus_reason(item: Any) -> str:
    """A short name for a bus item: `StateChanged.reason`, an event's `kind`, or its type."""
    for attr in ("reason", "kind"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    return type(item).__name__


class DeskgateApp(App[None]):
    """The trading console. The composition root (console/cli.py) builds engine and broker."""

    CSS_PATH = "deskgate.tcss"
    TITLE = "deskgate"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = bindings_for()

    def __init__(
        self,
        engine: Engine,
        *,
        config: Config,
        clock: Clock | None = None,
        live_account_check: str | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.config = config
        self.clock: Clock = clock or engine.clock
        self.live_account_check = live_account_check
        self.keymap = keymap_from_config(config.console.keys)
        self.set_keymap(self.keymap)
        self.snapshot: EngineSnapshot | None = None
        self.phase = "connecting…"
        self.started = False
        self.selected_intent_id: str | None = None
        self.blocker: str | None = "engine not started yet"
        self._inflight: set[str] = set()
        self._subscription: Subscription | None = None
        self._stopping = False
        self._main = MainScreen(config, self.key_display("approve"), self.key_display("drift"))

    # --- keys ---------------------------------------------------------------------------

    def key_display(self, action_id: str) -> str:
        key = self.keymap[action_id].split(",")[0]
        return self.get_key_display(Binding(key, action_id))

    @property
    def kill_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.keymap["kill"].split(","))

    # --- lifecycle ---------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return self._main

    def on_mount(self) -> None:
        self._set_mode_class(self.config.mode)
        self._subscription = self.engine.bus.subscribe()
        self._drain_bus(self._subscription)
        self.set_interval(1.0, self._tick, name="countdown")
        if self.live_account_check:
            self.phase = "waiting for live account confirmation"
            self.push_screen(
                LiveAccountScreen(self.live_account_check, kill_keys=self.kill_keys),
                callback=self._live_confirmed,
            )
        else:
            self._start_engine()
        self._render_state()

    def _live_confirmed(self, ok: bool | None) -> None:
        if ok:
            self._start_engine()
        else:
            self.exit(return_code=2, message="Live start refused: account id not confirmed.")

    def _set_mode_class(self, mode: Mode) -> None:
        """`-mode-sim|paper|live` on the app: the status bar's colour (CSS)."""
        for m in Mode:
            self.set_class(m is mode, f"-mode-{m.value}")

    @work(exclusive=True, group="engine-start", exit_on_error=False)
    async def _start_engine(self) -> None:
        self.phase = "connecting…"
        self._render_state()
        try:
            await self.engine.start()
        except Exception as exc:
            self.post_message(EngineStartFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EngineStarted())

    @work(exclusive=True, group="bus", exit_on_error=False)
    async def _drain_bus(self, subscription: Subscription) -> None:
        """Turn bus items into coalesced `EngineChanged` messages.

        Price-only frames are held to one per QUOTE_THROTTLE_S; anything else (an order, a
        fill, a kill) ends the hold and is shown within BUS_POLL_S.
        """
        loop = asyncio.get_running_loop()
        queue = subscription.queue
        reasons: set[str] = set()
        while True:
            if not reasons:
                reasons.add(bus_reason(await subscription.get()))
            while not queue.empty():
                reasons.add(bus_reason(queue.get_nowait()))
            self.post_message(EngineChanged(frozenset(reasons)))
            price_only = reasons <= QUOTE_ONLY_REASONS
            reasons = set()
            if not price_only:
                continue
            hold_until = loop.time() + QUOTE_THROTTLE_S
            while loop.time() < hold_until:
                await asyncio.sleep(BUS_POLL_S)
                while not queue.empty():
                    reasons.add(bus_reason(queue.get_nowait()))
                if reasons - QUOTE_ONLY_REASONS:
                    break

    @on(EngineStarted)
    def _engine_started(self) -> None:
        self.started = True
        self.phase = ""
        self._refresh_from_engine()

    @on(EngineStartFailed)
    def _engine_start_failed(self, message: EngineStartFailed) -> None:
        self.phase = f"start failed: {message.error}"
        self.notify(message.error, title="Engine did not start", severity="error", timeout=10)
        self._refresh_from_engine()

    @on(EngineChanged)
    def _engine_changed(self) -> None:
        self._refresh_from_engine()

    def _refresh_from_engine(self) -> None:
        try:
            self.snapshot = self.engine.snapshot()
        except Exception:
            if self.started:
                raise
            self.snapshot = None  # not started yet: nothing to show
        if self.snapshot is not None:
            self._set_mode_class(self.snapshot.mode)
        self._render_state()

    def _tick(self) -> None:
        """Once a second: countdowns, time in state, clock, approve availability."""
        self._render_state()

    # --- state down --------------------------------------------------------------------

    @property
    def selected(self) -> PendingApproval | None:
        return find_pending(self.snapshot, self.selected_intent_id)

    def _compute_blocker(self, now_mono: float) -> str | None:
        pending = self.selected
        verdict: CommandResult | None = None
        if pending is not None and self.snapshot is not None and self.started:
            try:
                verdict = self.engine.can_approve(pending.intent.intent_id)
            except Exception as exc:
                verdict = CommandResult(False, f"cannot check: {exc}")
        busy = pending is not None and f"approve:{pending.intent.intent_id}" in self._inflight
        return approve_blocker(self.snapshot, pending, now_mono, verdict, busy=busy)

    def console_state(self) -> ConsoleState:
        now_mono = self.clock.monotonic()
        if self.selected is None and self.snapshot is not None and self.snapshot.pending:
            self.selected_intent_id = self.snapshot.pending[0].intent.intent_id
        blocker = self._compute_blocker(now_mono)
        if blocker != self.blocker:
            self.blocker = blocker
            self.refresh_bindings()
        return ConsoleState(
            snapshot=self.snapshot,
            mode=self.snapshot.mode if self.snapshot is not None else self.config.mode,
            now=self.clock.now(),
            now_mono=now_mono,
            phase=self.phase,
            selected=self.selected,
            blocker=blocker,
        )

    def _render_state(self) -> None:
        if not self._main.is_mounted:
            return
        state = self.console_state()
        # A screen can be mounted a moment before its children are: skip that frame (it asks
        # for the state itself once composed, through StateWanted).
        with contextlib.suppress(NoMatches):
            self._main.show_state(state)
        for screen in self.screen_stack:
            if isinstance(screen, StateScreen) and screen.is_mounted:
                with contextlib.suppress(NoMatches):
                    screen.show_state(state)

    @on(StateWanted)
    def _state_wanted(self) -> None:
        self._render_state()

    @on(PendingSelected)
    def _pending_selected(self, message: PendingSelected) -> None:
        if message.intent_id is not None and message.intent_id != self.selected_intent_id:
            self.selected_intent_id = message.intent_id
            self._render_state()

    # --- availability ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_ACTIONS and self.screen is not self._main:
            return False
        if isinstance(self.screen, ModalScreen) and action != "kill":
            return False  # only the kill switch reaches past a dialog
        if action == "approve":
            return True if self.blocker is None else None
        if action == "reject":
            return True if self.selected is not None else None
        if action == "rearm":  # shown only when there is something to re-arm
            return (
                self.snapshot is not None
                and self.snapshot.trading_state is not TradingState.ACTIVE
                and not self.snapshot.drifts  # drift is lifted by resolving it (D), not re-arm
            )
        if action in ("flatten", "reconcile", "rollback"):
            return True if self.started else None
        return True

    # --- commands ----------------------------------------------------------------------

    def _command(
        self, name: str, key: str, call: Callable[[], Awaitable[CommandResult]]
    ) -> Worker[None] | None:
        """Run an engine command in a worker; one at a time per `key`; result → CommandDone."""
        if key in self._inflight:
            self.notify(f"{name} already in progress", severity="warning", timeout=2)
            return None
        self._inflight.add(key)

        async def run() -> None:
            try:
                result = await call()
            finally:
                self._inflight.discard(key)
            self.post_message(CommandDone(name, result))

        return self.run_worker(run(), name=f"cmd:{name}", group="commands", exit_on_error=False)

    @on(CommandDone)
    def _command_done(self, message: CommandDone) -> None:
        result = message.result
        self._main.show_result(message.command, result.ok, result.message)
        if message.command == RESOLVE_DRIFT:
            self._show_drift_result(result.ok, result.message)
        self.notify(
            result.message or ("ok" if result.ok else "failed"),
            title=message.command,
            severity="information" if result.ok else "error",
            timeout=4 if result.ok else 8,
        )
        self._refresh_from_engine()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.name.startswith("cmd:"):
            command = worker.name.removeprefix("cmd:")
            error = f"{type(worker.error).__name__}: {worker.error}"
            self._main.show_result(command, False, error)
            if command == RESOLVE_DRIFT:
                self._show_drift_result(False, error)
            self.notify(error, title=f"{command} failed", severity="error", timeout=10)
            self._refresh_from_engine()
        elif event.state is WorkerState.ERROR and worker.group == "bus":
            self.notify(f"engine feed stopped: {worker.error}", severity="error", timeout=30)

    def action_approve(self) -> None:
        pending = self.selected
        self._render_state()  # re-check availability right now, not as of the last tick
        if pending is None or self.blocker is not None:
            self.bell()
            return
        intent_id, token = pending.intent.intent_id, pending.token
        self._command(
            "approve", f"approve:{intent_id}", lambda: self.engine.approve(intent_id, token)
        )
        self._render_state()

    def action_reject(self) -> None:
        pending = self.selected
        if pending is None:
            self.bell()
            return
        intent_id = pending.intent.intent_id

        def done(reason: str | None) -> None:
            if reason is not None:
                self._command(
                    "reject", f"reject:{intent_id}", lambda: self.engine.reject(intent_id, reason)
                )

        self.push_screen(
            ReasonScreen(
                f"Reject {intent_id}",
                "Why? (optional, goes to the audit log)",
                required=False,
                kill_keys=self.kill_keys,
            ),
            callback=done,
        )

    def action_kill(self) -> None:
        """Kill switch: first press asks, the kill key (or y) again confirms."""
        if isinstance(self.screen, KillConfirmScreen):
            self.screen.dismiss(True)
            return
        working = (
            sum(1 for o in self.snapshot.orders if o.state.is_working) if (self.snapshot) else 0
        )

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._command(
                    "kill",
                    "kill",
                    lambda: self.engine.kill("kill switch (console)", actor="trader"),
                )

        self.push_screen(KillConfirmScreen(self.key_display("kill"), working), callback=done)

    def action_flatten(self) -> None:
        count = len(self.snapshot.positions) if self.snapshot else 0

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._command(
                    "flatten",
                    "flatten",
                    lambda: self.engine.flatten("flatten (console)", actor="trader"),
                )

        self.push_screen(
            ConfirmScreen("FLATTEN", f"Close all {count} position(s) at market?", danger=True),
            callback=done,
        )

    def action_reconcile(self) -> None:
        self._command("reconcile", "reconcile", self.engine.reconcile_now)

    def action_rearm(self) -> None:
        def done(reason: str | None) -> None:
            if reason:
                self._command("rearm", "rearm", lambda: self.engine.rearm(reason, actor="trader"))

        self.push_screen(
            ReasonScreen(
                "RE-ARM TRADING",
                "Trading is halted. Type why it is safe to resume:",
                required=True,
                kill_keys=self.kill_keys,
                danger=True,
            ),
            callback=done,
        )

    def action_rollback(self) -> None:
        def done(reason: str | None) -> None:
            if reason:
                self._command("rollback", "rollback", lambda: self._rollback(reason))

        self.push_screen(
            ReasonScreen(
                "ROLLBACK",
                "Halt, cancel every order, flatten every position and verify. Type why:",
                required=True,
                kill_keys=self.kill_keys,
                danger=True,
            ),
            callback=done,
        )

    async def _rollback(self, reason: str) -> CommandResult:
        out_dir = self.config.resolved_data_dir() / "incidents"
        result, report = await rollback_and_report(self.engine, reason, "trader", out_dir)
        if report is None:
            return result
        return CommandResult(result.ok, f"{result.message} - report {report}", result.code)

    def action_drift(self) -> None:
        self._toggle_view(DriftScreen)

    @on(DriftResolveWanted)
    def _drift_resolve_wanted(self, message: DriftResolveWanted) -> None:
        """Ask for the (required) note, then resolve in a worker; escape leaves it unresolved."""
        drift, resolution = message.drift, message.resolution

        def done(note: str | None) -> None:
            if note:
                self._resolve_drift(drift, resolution, note)

        self.push_screen(
            ReasonScreen(
                f"{resolution.value} - drift {drift.drift_id}",
                f"{drift.drift_type.value} {drift.subject} ({drift.severity.value})\n"
                f"  engine: {side_text(drift.engine_state)}\n"
                f"  broker: {side_text(drift.broker_state)}\n\n"
                f"{RESOLUTION_MEANING[resolution]}.\n"
                "Type a note for the audit log (required):",
                required=True,
                kill_keys=self.kill_keys,
                danger=True,
                noun="note",
            ),
            callback=done,
        )

    def _resolve_drift(self, drift: DriftDetected, resolution: DriftResolution, note: str) -> None:
        drift_id = drift.drift_id
        self._command(
            RESOLVE_DRIFT,
            f"drift:{drift_id}",
            lambda: self.engine.resolve_drift(drift_id, resolution, note, actor="trader"),
        )

    def _show_drift_result(self, ok: bool, message: str) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, DriftScreen) and screen.is_mounted:
                screen.show_result(ok, message)

    def _toggle_view(self, kind: type[StateScreen]) -> None:
        if isinstance(self.screen, kind):
            self.pop_screen()
            return
        while isinstance(self.screen, StateScreen):
            self.pop_screen()
        self.push_screen(kind(stale_threshold_s=self.config.stale.threshold_min * 60))

    def action_gates(self) -> None:
        self._toggle_view(GatesScreen)

    def action_audit(self) -> None:
        self._toggle_view(AuditScreen)

    def action_help(self) -> None:
        rows = [(self.key_display(spec.id), spec.label, spec.help) for spec in ACTIONS]
        self.push_screen(HelpScreen(rows, list(PANEL_KEYS)))

    async def action_quit(self) -> None:
        working = (
            sum(1 for o in self.snapshot.orders if o.state.is_working) if (self.snapshot) else 0
        )
        if not working:
            await self.shutdown()
            return

        async def done(confirmed: bool | None) -> None:
            if confirmed:
                await self.shutdown()

        self.push_screen(
            ConfirmScreen(
                "QUIT",
                f"{working} order(s) are working at the broker and STAY working after you quit."
                " Quit anyway?",
                danger=True,
            ),
            callback=done,
        )

    async def shutdown(self) -> None:
        """Stop the feed and the engine (bounded wait), then exit."""
        if self._stopping:
            return
        self._stopping = True
        self.workers.cancel_group(self, "bus")
        if self._subscription is not None:
            self._subscription.close()
        if self.started:
            try:
                await asyncio.wait_for(self.engine.stop(), STOP_TIMEOUT_S)
            except Exception as exc:  # leaving anyway; the trader sees why
                self.exit(message=f"engine stop: {type(exc).__name__}: {exc}")
                return
        self.exit()
