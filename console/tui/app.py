"""The deskgate Textual app: engine events in through a worker, trader commands out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.actions import ActionParseResult
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from console.tui import navigation, startup
from console.tui.availability import Availability
from console.tui.bus_feed import feed_changes
from console.tui.commands import CommandRunner, show_command_done, show_worker_error
from console.tui.deferred import on_first_use
from console.tui.first_frame import CONNECTING
from console.tui.keymap import ACTIONS, bindings_for, keymap_from_config, remapped
from console.tui.messages import (
    AlertsAcknowledged,
    CommandDone,
    DriftResolveWanted,
    EngineChanged,
    EngineReady,
    EngineStartFailed,
    PendingSelected,
    StateWanted,
)
from console.tui.text import printable
from console.tui.widgets.status_bar import shown_mode
from contracts.enums import Mode
from engine.heap import settle_heap

if TYPE_CHECKING:  # the main screen, its panels and the engine's models load after the first frame
    from console.tui import dialogs, state
    from console.tui import format as fmt
    from console.tui.attention import Attention
    from console.tui.engine_api import ConsoleEngine
    from console.tui.screens import modals
    from console.tui.state import ConsoleState
    from contracts.broker import Quote
    from contracts.config import Config
    from engine.bus import Subscription
    from engine.clock import Clock
    from engine.results import CommandResult
    from engine.view import EngineSnapshot, PendingApproval
else:  # named here, loaded at their first use (after the first frame)
    dialogs = on_first_use("console.tui.dialogs")
    fmt = on_first_use("console.tui.format")
    modals = on_first_use("console.tui.screens.modals")
    state = on_first_use("console.tui.state")

MAIN_ACTIONS = frozenset(spec.action for spec in ACTIONS if spec.scope == "main")
MODAL_ACTIONS = frozenset({"kill_anywhere", "quit_anywhere"})
"""The app's actions that reach past a dialog: the chords ctrl+k and ctrl+q. The dialog's own
keys (escape...) always work; the main footer shows none of the single keys meanwhile."""
STOP_TIMEOUT_S = 5.0
APPROVING_SHOWN_AFTER_S = 0.1
"""An approve still in flight this long after the key says 'approving' on the message line."""


class DeskgateApp(App[None]):
    """The trading console. The composition root (console/cli.py) builds engine and broker."""

    CSS_PATH = "deskgate.tcss"
    TITLE = "deskgate"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = bindings_for()

    console_state: var[ConsoleState | None] = var(None, init=False)
    """What every screen shows; screens watch it (`watch_state`)."""
    drift_result: var[tuple[bool, str] | None] = var(None, init=False)
    """The outcome of the last drift resolution (ok, the engine's words); the drift screen
    watches it."""

    def __init__(
        self,
        engine: ConsoleEngine | None = None,
        *,
        config: Config | None = None,
        mode: Mode | None = None,
        clock: Clock | None = None,
        live_account_check: str | None = None,
        opener: startup.EngineOpener | None = None,
    ) -> None:
        """Over `engine` and its `config`, or over the engine `opener` builds after the first
        frame (`startup`), which shows `mode` (or `config`'s) until the opener hands over the
        validated config."""
        super().__init__()
        if (engine is None) == (opener is None):
            raise TypeError("DeskgateApp needs an engine or an opener (exactly one)")
        if engine is not None and config is None:
            raise TypeError("DeskgateApp over an engine needs the engine's config")
        shown = config.mode if config is not None else mode
        if shown is None:
            raise TypeError("DeskgateApp needs a config, or the mode to show until it has one")
        self.configured_mode: Mode = shown
        """The badge before the engine's first snapshot: the config's mode."""
        self.config: Config
        self.keymap: dict[str, str] = {}
        self.attention: Attention
        if config is not None:
            self._configure(config)
        if engine is not None:
            self.clock: Clock = clock or engine.clock
        else:  # until the opener's engine brings its own
            from engine.clock import SystemClock

            self.clock = clock or SystemClock()
        self._opener = opener
        self._starting = None if opener is None else startup.StartingScreen(self.configured_mode)
        self.start_error: Exception | None = None  # why `opener` failed (exit status 2)
        self.snapshot: EngineSnapshot | None = None
        self.phase = CONNECTING
        self.started = False
        self.selected_intent_id: str | None = None
        self.blocker: str | None = "engine not started yet"
        self.commands = CommandRunner(self)
        self._subscription: Subscription | None = None
        self._stopping = False
        self._shown_availability: Availability | None = None
        self.acknowledged: set[str] = set()
        """Alert event ids the trader acknowledged (space in the Alerts panel)."""
        self.settle_heap_when_started = False
        """Freeze the start-up heap once the engine runs (the `deskgate` process sets it)."""
        self.before_taking_terminal: Callable[[], object] | None = None
        """Runs just before Textual takes the terminal over (the `deskgate` process erases the
        frame it drew before Textual loaded)."""
        if engine is not None:
            self._adopt(startup.OpenedEngine(engine, live_account_check), clock)

    def _configure(self, config: Config) -> None:
        """The validated config: the trader's keys, the approve dwell, the mode badge."""
        from console.tui.attention import Attention

        self.config = config
        self.configured_mode = config.mode
        self.keymap = keymap_from_config(config.console.keys)
        self.set_keymap(remapped(self.keymap))
        self.attention = Attention(config.console.approve_dwell_s)

    def _adopt(self, opened: startup.OpenedEngine, clock: Clock | None) -> None:
        from console.tui.screens.main import MainScreen

        if opened.config is not None:
            self._configure(opened.config)
        self.engine = opened.engine
        self.clock = clock or opened.engine.clock
        self.live_account_check = opened.live_account_check
        self._main = MainScreen(self.config, self.key_display("approve"), self.key_display("drift"))

    # --- keys ---------------------------------------------------------------------------

    def key_display(self, action_id: str) -> str:
        key = self.keymap[action_id].split(",")[0]
        return self.get_key_display(Binding(key, action_id))

    async def run_action(self, action: str | ActionParseResult, *args: Any, **kwargs: Any) -> bool:
        """Every action, except that the console's own keys wait for the engine (one line)."""
        if self._opener is not None and startup.refused_while_starting(self, action):
            return True
        return await super().run_action(action, *args, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return self._starting if self._starting is not None else self._main

    def on_load(self) -> None:
        if self.before_taking_terminal is not None:
            self.before_taking_terminal()

    def on_mount(self) -> None:
        self._set_mode_class(self.configured_mode)
        if self._opener is not None:
            self.call_after_refresh(self._open_engine, self._opener)
        else:
            self._follow_engine()

    @work(exclusive=True, group="engine-open", exit_on_error=False)
    async def _open_engine(self, opener: startup.EngineOpener) -> None:
        """After the first frame: build the engine, show the main screen, start it."""
        try:
            self._adopt(await opener(), None)
        except Exception as exc:
            self.start_error = exc
            self.exit(return_code=2)
            return
        self._set_mode_class(self.configured_mode)  # the validated config's, before any key acts
        if self._starting is not None:
            self._starting.show_mode(self.configured_mode)
        mounted = self.push_screen(self._main)  # over the starting screen, which stays hidden
        self._follow_engine(painted=True)  # the engine connects while the main screen mounts
        await mounted
        self._opener = None  # keys reach the engine only once its screen is there
        self._render_state()

    def _follow_engine(self, painted: bool = False) -> None:
        """Follow the engine's bus, tick; start the engine after the live check and first frame."""
        self._subscription = self.engine.bus.subscribe()
        self._drain_bus(self._subscription)
        self.set_interval(1.0, self._tick, name="countdown")
        if self.live_account_check:
            self.phase = "waiting for live account confirmation"
            confirm = modals.LiveAccountScreen(self.live_account_check)
            self.push_screen(confirm, self._live_confirmed)
        elif painted:  # the first frame is up: connect now, while the main screen mounts
            self._start_engine()
        else:  # after the first frame: connecting loads the adapter (ib_async, a gateway)
            self.call_after_refresh(self._start_engine)
        self._render_state()

    def _live_confirmed(self, ok: bool | None) -> None:
        if ok:
            self._start_engine()
        else:
            self.exit(return_code=2, message="Live start refused: account id not confirmed.")

    def _set_mode_class(self, mode: Mode) -> None:
        """`-mode-sim|paper|live` on the app (the status bar's colour): one restyle per change."""
        if not self.has_class(shown := f"-mode-{mode.value}"):
            self.remove_class(*(f"-mode-{m.value}" for m in Mode), update=False)
            self.add_class(shown)

    @work(exclusive=True, group="engine-start", exit_on_error=False)
    async def _start_engine(self) -> None:
        self.phase = CONNECTING
        self._render_state()
        try:
            await self.engine.start()
        except Exception as exc:
            self.post_message(EngineStartFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EngineReady())

    @work(exclusive=True, group="bus", exit_on_error=False)
    async def _drain_bus(self, subscription: Subscription) -> None:
        """The bus as `EngineChanged` messages (`bus_feed`: price frames held back)."""
        await feed_changes(subscription, self.post_message)

    @on(EngineReady)
    def _engine_started(self) -> None:
        from console.tui.widgets.quotes import watch_configured

        self.started = True
        self.phase = ""
        self.run_worker(watch_configured(self.engine, self.config.console.symbols), group="quotes")
        self._refresh_from_engine()
        if self.settle_heap_when_started:
            self.call_after_refresh(settle_heap)

    @on(EngineStartFailed)
    def _engine_start_failed(self, message: EngineStartFailed) -> None:
        reason = fmt.broker_reason(message.error)
        self.phase = f"start failed: {reason}"
        self.notify(
            printable(reason),
            title="Engine did not start",
            severity="error",
            timeout=10,
            markup=False,
        )
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
            self._set_mode_class(shown_mode(self.snapshot.mode, self.snapshot))
        self._render_state()

    def _tick(self) -> None:
        """Once a second: countdowns, time in state, clock, approve availability."""
        self._render_state()

    # --- state down --------------------------------------------------------------------

    @property
    def selected(self) -> PendingApproval | None:
        return state.find_pending(self.snapshot, self.selected_intent_id)

    def _compute_blocker(self, now_mono: float) -> str | None:
        pending = self.selected
        verdict: CommandResult | None = None
        if pending is not None and self.snapshot is not None and self.started:
            try:
                verdict = self.engine.can_approve(pending.intent.intent_id)
            except Exception as exc:
                from engine.results import CommandResult

                verdict = CommandResult(False, f"cannot check: {exc}")
        busy = pending is not None and self.commands.busy(f"approve:{pending.intent.intent_id}")
        return state.approve_blocker(self.snapshot, pending, now_mono, verdict, busy=busy)

    def _recheck(self, now_mono: float) -> None:
        """The selection (the first pending trade by default), why approve is unavailable now,
        and the footer's keys when that changed."""
        if self.selected is None and self.snapshot is not None and self.snapshot.pending:
            self.selected_intent_id = self.snapshot.pending[0].intent.intent_id
        self.blocker = self._compute_blocker(now_mono)
        availability = self._availability()
        if availability != self._shown_availability:
            self._shown_availability = availability
            self.refresh_bindings()

    def _build_state(self) -> ConsoleState:
        from console.tui.widgets.quotes import quotes_for

        now_mono = self.clock.monotonic()
        self._recheck(now_mono)
        self._note_headline(now_mono)
        if self.attention.bell_due(self.snapshot.pending if self.snapshot else (), now_mono):
            self.bell()
        return state.ConsoleState(
            snapshot=self.snapshot,
            mode=self.snapshot.mode if self.snapshot is not None else self.config.mode,
            now=self.clock.now(),
            now_mono=now_mono,
            phase=self.phase,
            selected=self.selected,
            blocker=self.blocker,
            quote=self._quote_for(self.selected),
            pending_history=self.engine.pending_history() if self.started else (),
            acknowledged=frozenset(self.acknowledged),
            quotes=quotes_for(self.engine, self.snapshot, self.config.console.symbols)
            if self.started
            else (),
        )

    def _quote_for(self, pending: PendingApproval | None) -> Quote | None:
        if pending is None or not self.started:
            return None
        return self.engine.quote(pending.intent.order.instrument.symbol)

    def _render_state(self) -> None:
        """Publish a fresh `ConsoleState`; the screens watching `console_state` redraw."""
        if self._main.is_mounted:
            self.console_state = self._build_state()

    @on(StateWanted)
    def _state_wanted(self) -> None:
        self._render_state()

    @on(AlertsAcknowledged)
    def _alerts_acknowledged(self, message: AlertsAcknowledged) -> None:
        self.acknowledged |= message.event_ids
        self._render_state()

    @on(PendingSelected)
    def _pending_selected(self, message: PendingSelected) -> None:
        if message.intent_id is not None and message.intent_id != self.selected_intent_id:
            self.selected_intent_id = message.intent_id
            self._render_state()

    # --- availability ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which app actions work now: the footer lights exactly these (None greys a key out,
        False hides it)."""
        if self._opener is not None:
            return True  # until the engine is up, `run_action` answers every key
        if isinstance(self.screen, ModalScreen):
            return action in MODAL_ACTIONS
        if action in MAIN_ACTIONS and self.screen is not self._main:
            return False
        return self._availability().allows(action)

    def _availability(self) -> Availability:
        return Availability.of(
            self.snapshot,
            blocker=self.blocker,
            selected=self.selected is not None,
            started=self.started,
            phase=self.phase,
        )

    # --- commands ----------------------------------------------------------------------

    def command(
        self,
        name: str,
        key: str,
        call: Callable[[], Awaitable[CommandResult]],
        *,
        subject: str = "",
    ) -> Worker[None] | None:
        """Run an engine command in a worker; one at a time per `key`; result → CommandDone
        (echoed with `subject`, e.g. the trade's headline)."""
        return self.commands.run(name, key, call, subject)

    @on(CommandDone)
    def _command_done(self, message: CommandDone) -> None:
        show_command_done(self, message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        show_worker_error(self, event)

    def _note_headline(self, now_mono: float) -> None:
        """Start the dwell clock when another trade's headline comes on screen."""
        shown = self.selected_intent_id if self._headline_on_screen() else None
        self.attention.headline_shown(shown, now_mono)

    def _headline_on_screen(self) -> bool:
        """The main screen is the top full screen (dialogs leave it visible) with approvals."""
        full = [s for s in self.screen_stack if not isinstance(s, ModalScreen)]
        return bool(full) and full[-1] is self._main and self._main.headline_visible()

    async def action_approve(self) -> None:
        from console.tui.widgets.approvals import trade_text

        pending = self.selected
        self._recheck(self.clock.monotonic())  # availability right now, not as of the last tick
        if pending is None or self.blocker is not None:
            self._render_state()  # the screen says why
            self.bell()
            return
        now_mono = self.clock.monotonic()
        self._note_headline(now_mono)
        refusal = self.attention.dwell_refusal(pending, now_mono)
        if refusal is not None:
            self.bell()
            self._main.show_result("approve refused", False, refusal)
            self.notify(refusal, title="approve refused", severity="warning", markup=False)
            return
        intent_id, token = pending.intent.intent_id, pending.token
        headline = f"{trade_text(pending)} ({intent_id})"
        busy_key = f"approve:{intent_id}"
        self.command(
            "approve", busy_key, lambda: self.engine.approve(intent_id, token), subject=headline
        )

        def still_approving() -> None:
            if self.commands.busy(busy_key):
                self._main.show_result("approving", True, headline)

        # Said only of an approve still waiting (a broker slow to answer): a quick one's row
        # and its 'sent' come first, and the line stays out of the frame that draws the row.
        self.set_timer(APPROVING_SHOWN_AFTER_S, still_approving)
        # After the approve's first step (it sends the order): the footer dims the key while
        # the approve is in flight; the screen's state follows with the order's own event.
        asyncio.get_running_loop().call_soon(self._recheck_now)
        # Let that step run before the console takes the next message queued behind the key
        # (a price frame's refresh went first: the order left 5 ms later).
        await asyncio.sleep(0)

    def _recheck_now(self) -> None:
        self._recheck(self.clock.monotonic())

    def action_reject(self) -> None:
        pending = self.selected
        if pending is None:
            self.bell()
            return
        dialogs.ask_reject(self, pending)

    def action_kill_anywhere(self) -> None:
        self.action_kill()

    async def action_quit_anywhere(self) -> None:
        await self.action_quit()

    def action_kill(self) -> None:
        """Kill switch: first press asks, the kill key (or y) again confirms."""
        if isinstance(self.screen, modals.KillConfirmScreen):
            self.screen.dismiss(True)
            return
        dialogs.ask_kill(self)

    def action_flatten(self) -> None:
        dialogs.ask_flatten(self)

    def action_cancel_order(self) -> None:
        """`c` in the Orders panel: cancel the selected working order after one `y`; the
        order leaves the live list only when the broker confirms the cancel."""
        order = self._main.selected_order()
        if order is None or not order.state.is_working:
            self.bell()
            self._main.show_result(
                "cancel", False, "select a working order in the Orders panel (3) first"
            )
            return
        dialogs.ask_cancel_order(self, order)

    def action_ticket(self) -> None:
        navigation.open_ticket(self)

    def action_replace_order(self) -> None:
        """`m` in the Orders panel: the ticket pre-filled to replace the selected order."""
        order = self._main.selected_order()
        if order is None or not order.state.is_working:
            self.bell()
            self._main.show_result(
                "replace", False, "select a working order in the Orders panel (3) first"
            )
            return
        navigation.open_ticket(self, replaces=order)

    def action_close_position(self) -> None:
        """`x` in the Positions panel: close the selected open position (y confirms)."""
        position = self._main.selected_position()
        if position is None:
            self.bell()
            self._main.show_result(
                "close", False, "select an open position in the Positions panel (2) first"
            )
            return
        dialogs.ask_close_position(self, position)

    def action_reconnect(self) -> None:
        """Connect now: a failed start is started again; a session that dropped later asks
        the adapter's reconnect loop for its next attempt now (never a second connect)."""
        if self.started:

            async def now() -> CommandResult:
                return self.engine.reconnect_now()

            self.command("reconnect", "reconnect", now)
            return
        if self._start_running():
            self.bell()
            return
        self.phase = CONNECTING
        self._main.show_result("reconnect", True, "connecting now…")
        self._start_engine()

    def _start_running(self) -> bool:
        return any(
            w.group == "engine-start" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    def action_reconcile(self) -> None:
        self.command("reconcile", "reconcile", self.engine.reconcile_now)

    def action_rearm(self) -> None:
        dialogs.ask_rearm(self)

    def action_rollback(self) -> None:
        dialogs.ask_rollback(self)

    def action_drift(self) -> None:
        navigation.toggle_view(self, "drift")

    @on(DriftResolveWanted)
    def _drift_resolve_wanted(self, message: DriftResolveWanted) -> None:
        dialogs.ask_drift_note(self, message.drift, message.resolution)

    def action_gates(self) -> None:
        navigation.toggle_view(self, "gates")

    def action_audit(self) -> None:
        navigation.toggle_view(self, "audit")

    def action_limits(self) -> None:
        navigation.show_limits(self)

    def action_promote(self) -> None:
        navigation.show_promote(self)

    def action_help(self) -> None:
        navigation.show_help(self)

    async def action_quit(self) -> None:
        if isinstance(self.screen, modals.QuitConfirmScreen):
            return  # already asking
        working = state.orders_at_broker(self.snapshot)
        if not working:
            await self.shutdown()
            return
        dialogs.ask_quit(self, working)

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
                self.exit(message=printable(f"engine stop: {type(exc).__name__}: {exc}"))
                return
        self.exit()
