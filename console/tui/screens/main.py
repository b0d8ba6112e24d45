"""The main screen: status, drift banner, alerts line, approvals + evidence, the live panels."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from console.tui.messages import AlertsAcknowledged, PendingSelected, StateWanted
from console.tui.screens.paint import FramePainter, PaintNow
from console.tui.screens.views import watch_state
from console.tui.state import ConsoleState, orders_at_broker
from console.tui.widgets.account import AccountStrip
from console.tui.widgets.approvals import ApprovalQueue
from console.tui.widgets.chrome import KeysFooter, MessageLine, PanelTabs
from console.tui.widgets.drift import DriftBanner
from console.tui.widgets.evidence import EvidencePanel, EvidenceView
from console.tui.widgets.fills import FillsTable
from console.tui.widgets.gates import GatesPanel, gates_from, tier_label
from console.tui.widgets.history import PendingHistory
from console.tui.widgets.latency import LatencyPanel
from console.tui.widgets.quotes import QuotesPanel
from console.tui.widgets.status_bar import StatusBar
from console.tui.widgets.strategies import StrategiesPanel
from console.tui.widgets.tables import AlertsTable, AuditTable, OrdersTable, PositionsTable
from contracts.config import Config
from contracts.enums import AlertLevel, LifecycleState
from engine.strategy.manager import StrategyPanelView
from engine.view import OrderView, PositionView

PANELS: tuple[tuple[str, str, str], ...] = (
    ("approvals", "Approvals", "Appr"),
    ("positions", "Positions", "Pos"),
    ("orders", "Orders", "Ord"),
    ("latency", "Latency", "Lat"),
    ("gates", "Gates", "Gates"),
    ("alerts", "Alerts", "Alrt"),
    ("audit", "Audit", "Audit"),
    ("fills", "Fills", "Fills"),
    ("strategies", "Strategies", "Strat"),
)
W = TypeVar("W", bound=Widget)
STRATEGIES = len(PANELS) - 1
"""The strategies panel: a tab only while the bot runs (`--strategies`)."""
LAYOUTS = ("-compact", "-split", "-tiled")
DECK_COLUMNS = {"-split": ("11fr 9fr", "47 1fr"), "-tiled": ("3fr 2fr 2fr", "47 1fr 1fr")}
"""The deck's grid columns per layout, (busy, idle): with no pending trade the approvals column
gives its width to positions and orders. Set inline on the deck, because a class on the screen
would re-apply the stylesheet to every widget (tens of ms) each time a trade comes or goes."""
IDLE_AFTER_S = 3.0
"""The deck widens positions and orders only after this long with nothing pending: while the
trader works through trades the panels stay put (no re-layout between approve and its row)."""
RESULT_WAITS_S = 0.05
"""A successful command's line waits this long for the frame of the command's own events (an
approved order's row), and follows that frame when one comes."""


def layout_for(width: int, height: int) -> str:
    """All panels tiled on big terminals, approvals + one tab in the middle, tabs when small."""
    if width >= 160 and height >= 42:
        return "-tiled"
    if width >= 110 and height >= 28:
        return "-split"
    return "-compact"


class MainScreen(Screen[None]):
    """Shows one `ConsoleState`; posts `PendingSelected` when the queue cursor moves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n + 1), f"panel({n})", PANELS[n][1], show=False) for n in range(len(PANELS))),
        Binding("left_square_bracket", "cycle(-1)", "Prev panel", show=False),
        Binding("right_square_bracket", "cycle(1)", "Next panel", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("space", "acknowledge", "Ack alert", show=False),
    ]

    def __init__(self, config: Config, approve_key: str, drift_key: str = "D") -> None:
        super().__init__(id="main")
        self.config = config
        self.approve_key = approve_key
        self.drift_key = drift_key
        self.layout_name = "-compact"
        self.idle = True
        self.empty_since: float | None = None
        """Monotonic time the approval queue last became empty (None: trades pending)."""
        self.pending_shown = 0
        """Trades in the queue as last drawn."""
        self.active = 0
        self.side_active = 1
        self.state: ConsoleState | None = None
        self._bot: bool | None = None
        self._widgets: dict[tuple[type[Widget], str | None], Widget] = {}
        self.painter = FramePainter(self)
        """Paints a change of the Orders list at once (an approved order's row)."""
        self._result_due: tuple[str, bool, str] | None = None
        """A successful command's line, shown after its events' frame (`show_result_soon`)."""

    def compose(self) -> ComposeResult:
        stale_s = self.config.stale.threshold_min * 60
        yield StatusBar(stale_threshold_s=stale_s, mode=self.config.mode, id="status")
        yield AccountStrip(id="account")
        yield DriftBanner(self.drift_key, id="drift-banner")
        yield MessageLine(id="message")
        yield PanelTabs([p[1] for p in PANELS], [p[2] for p in PANELS], id="tabs")
        with Container(id="deck"):
            with Vertical(id="p-approvals", classes="panel"):
                yield QuotesPanel(id="quotes")
                yield ApprovalQueue(id="queue")
                yield Static("No pending trades - waiting for intents.", id="queue-empty")
                yield EvidencePanel(stale=self.config.stale, id="evidence")
                yield PendingHistory(id="pending-history")
            with Vertical(id="p-positions", classes="panel"):
                yield PositionsTable(id="positions")
            with Vertical(id="p-orders", classes="panel"):
                yield OrdersTable(id="orders")
            with Vertical(id="p-latency", classes="panel"):
                yield LatencyPanel(id="latency")
            with Vertical(id="p-gates", classes="panel"):
                yield GatesPanel(id="gates")
            with Vertical(id="p-alerts", classes="panel"):
                yield AlertsTable(id="alerts")
            with Vertical(id="p-audit", classes="panel"):
                yield AuditTable(id="audit-tail")
            with Vertical(id="p-fills", classes="panel"):
                yield FillsTable(id="fills")
            with Vertical(id="p-strategies", classes="panel"):
                yield StrategiesPanel(self._strategy_view, id="strategies")
        yield KeysFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for index, (key, label, _) in enumerate(PANELS):
            self.query_one(f"#p-{key}").border_title = f"{index + 1} {label}"
        self._apply_layout(self.app.size.width, self.app.size.height)
        self.query_one(ApprovalQueue).focus()
        watch_state(self, self.show_state)

    # --- layout -------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        self.layout_name = layout_for(width, height)
        for name in LAYOUTS:
            self.set_class(name == self.layout_name, name)
        self._set_deck_columns()
        self._show_active()

    def _note_idle(self, pending: bool, now_mono: float) -> None:
        """Busy at once when a trade arrives; idle once the queue stayed empty IDLE_AFTER_S."""
        if pending:
            self.empty_since = None
            idle = False
        else:
            if self.empty_since is None:
                self.empty_since = now_mono
            idle = self.idle or now_mono - self.empty_since >= IDLE_AFTER_S
        if idle != self.idle:
            self.idle = idle
            self._set_deck_columns()

    def _set_deck_columns(self) -> None:
        columns = DECK_COLUMNS.get(self.layout_name)
        if columns is not None:
            self.query_one("#deck").styles.grid_columns = columns[self.idle]

    def _panel(self, index: int) -> Widget:
        return self.query_one(f"#p-{PANELS[index][0]}")

    def _show_active(self) -> None:
        for index in range(len(PANELS)):
            panel = self._panel(index)
            panel.set_class(index == self.active, "-active")
            panel.set_class(index == self.side_active, "-side")
        self._refresh_tabs()
        if self.state is not None:
            self._show_panels(self.state)  # a panel that just came into view catches up
            self._show_approvals(self.state)

    def panel_visible(self, index: int) -> bool:
        """Whether panel `index` is on screen in the current layout (and zoom): hidden panels
        are not updated until they are shown."""
        if self.has_class("-zoom"):
            return self._panel(index).has_class("-zoomed")
        if self.layout_name == "-tiled":
            return True
        if self.layout_name == "-split":
            return index in (0, self.side_active)
        return index == self.active

    def _strategy_view(self) -> StrategyPanelView | None:
        source = getattr(getattr(self.app, "engine", None), "strategy_panel", None)
        return source() if callable(source) else None

    def _bot_runs(self) -> bool:
        if self._bot is None:
            self._bot = self._strategy_view() is not None
            self._panel(STRATEGIES).set_class(not self._bot, "-absent")
        return self._bot

    def _visible_tabs(self) -> list[int]:
        bot = self._bot_runs()
        shown = [i for i in range(len(PANELS)) if bot or i != STRATEGIES]
        return shown[1:] if self.layout_name == "-split" else shown

    def _tab_active(self) -> int:
        return self.side_active if self.layout_name == "-split" else self.active

    def headline_visible(self) -> bool:
        """The approvals panel (and so the selected trade's headline) is on screen."""
        return self.layout_name != "-compact" or self.active == 0

    def action_panel(self, index: int) -> None:
        """Show panel `index` (a tab on small terminals); focus its list."""
        if index == STRATEGIES and not self._bot_runs():
            return
        self.active = index
        if index > 0:
            self.side_active = index
        self._show_active()
        self.app.post_message(StateWanted())
        for widget in self._panel(index).query("*"):
            if widget.focusable:
                widget.focus()
                break

    def selected_order(self) -> OrderView | None:
        """The order under the Orders panel's cursor while that list has focus."""
        table = self.query_one(OrdersTable)
        snap = self.state.snapshot if self.state is not None else None
        if snap is None or not table.has_focus:
            return None
        key = table.selected_intent_id
        return next((o for o in snap.orders if o.intent_id == key), None)

    def selected_position(self) -> PositionView | None:
        """The open position under the Positions panel's cursor while that list has focus."""
        table = self.query_one(PositionsTable)
        snap = self.state.snapshot if self.state is not None else None
        if snap is None or not table.has_focus or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((p for p in snap.positions if p.symbol == key and p.quantity), None)

    def action_zoom(self) -> None:
        """Show the panel with focus (or the active one) alone, full screen; z again restores."""
        if self.has_class("-zoom"):
            self.remove_class("-zoom")
            self._show_active()
            return
        focused = self.focused
        zoomed = self._panel(self.active)
        for index in range(len(PANELS)):
            if focused is not None and focused in self._panel(index).query("*"):
                zoomed = self._panel(index)
        for index in range(len(PANELS)):
            self._panel(index).set_class(self._panel(index) is zoomed, "-zoomed")
        self.add_class("-zoom")
        self._show_active()

    def action_acknowledge(self) -> None:
        """Space in the Alerts panel acknowledges the highlighted alert (elsewhere: all shown)."""
        snap = self.state.snapshot if self.state is not None else None
        if snap is None or not snap.alerts:
            return
        table = self.query_one(AlertsTable)
        if table.has_focus and table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            ids = frozenset({key}) if key is not None else frozenset()
        else:
            ids = frozenset(a.event_id for a in snap.alerts)
        self.app.post_message(AlertsAcknowledged(ids))

    def action_cycle(self, step: int) -> None:
        tabs = self._visible_tabs()
        current = self._tab_active()
        position = tabs.index(current) if current in tabs else 0
        self.action_panel(tabs[(position + step) % len(tabs)])

    # --- state in ----------------------------------------------------------------------

    def _one(self, kind: type[W], selector: str | None = None) -> W:
        """The screen's widget of that type (and selector), found once: every engine update
        feeds a dozen of them, and each query walks the screen's tree."""
        key = (kind, selector)
        widget = self._widgets.get(key)
        if widget is None:
            found = self.query_one(selector, kind) if selector else self.query_one(kind)
            widget = self._widgets[key] = found
        assert isinstance(widget, kind)
        return widget

    def show_state(self, state: ConsoleState) -> None:
        """Show `state`. When the Orders list changed as a trade left the queue (an approved
        order's row), that frame is drawn at once with the row alone, and the rest follows
        in the next one: the approvals column's re-arrangement (a queue that shrinks, the
        evidence that goes) is a full re-layout, two to four times the cost of the row, and
        the bars, badges and banners that count the order come with it. The row is what the
        trader waits for."""
        self.state = state
        orders = self._one(OrdersTable)
        orders_changed = orders.changes
        self._show_panels(state)
        if orders.changes == orders_changed:
            if self.painter.holds_tick():  # an order's frame is queued: the rest follows it
                self.painter.request(then=self._caught_up)
                return
            self._show_chrome(state)
            self._show_approvals(state)
            return
        pending = len(state.snapshot.pending) if state.snapshot is not None else 0
        if pending >= self.pending_shown:  # nothing left the queue: one frame for all
            self._show_chrome(state)
            self.painter.request()
            self._show_approvals(state)
            return
        self.painter.request(then=self._caught_up)

    def _caught_up(self) -> None:
        """After the order's frame: the newest state's bars and approvals column, and the
        command's line if it waits (`show_result_soon`)."""
        if self.state is not None:
            self._show_chrome(self.state)
            self._show_approvals(self.state)
        self._show_due_result()

    @on(PaintNow)
    def _paint_now(self, event: PaintNow) -> None:
        event.stop()
        self.painter.paint()

    def _on_timer_update(self) -> None:
        if self.painter.holds_tick():  # the queued PaintNow draws this frame, whole
            self._update_timer.pause()
            return
        super()._on_timer_update()

    def _show_chrome(self, state: ConsoleState) -> None:
        """The status bar, drift banner, account strip, newest alert and the tabs' badges."""
        snap = state.snapshot
        self._one(StatusBar).show(snap, state.now, state.phase, state.mode)
        self._one(DriftBanner).show(snap.drifts if snap is not None else ())
        self._one(AccountStrip).show(snap)
        if snap is not None:
            self._one(MessageLine).show_alert(snap.alerts[-1] if snap.alerts else None)
        self._refresh_tabs()

    def _show_approvals(self, state: ConsoleState) -> None:
        """The approvals column: quotes, the queue (hidden while empty), the selected trade's
        evidence and the recent decisions."""
        snap = state.snapshot
        queue = self._one(ApprovalQueue)
        pending = snap.pending if snap is not None else ()
        self.pending_shown = len(pending)
        queue.show(pending, state.now_mono)
        queue.display = bool(pending)
        if pending and self.focused is None:  # hidden while empty (e.g. before the start) it
            queue.focus()  # lost the focus: the first trade to approve brings it back
        self._note_idle(bool(pending), state.now_mono)
        self._one(Static, "#queue-empty").display = not pending
        evidence = self._one(EvidencePanel)
        evidence.display = bool(pending)
        self._one(QuotesPanel).show(state.quotes)
        if self.panel_visible(0) and evidence.display:  # hidden: caught up when shown
            evidence.show(
                EvidenceView(
                    pending=state.selected,
                    now=state.now,
                    now_mono=state.now_mono,
                    blocker=state.blocker,
                    quote=state.quote,
                    approve_key=self.approve_key,
                    kill_flags=snap.kill_flags if snap is not None else (),
                )
            )
        if snap is None:
            return
        history = self._one(PendingHistory)
        history.show(state.pending_history)
        history.display = bool(state.pending_history)

    def _show_panels(self, state: ConsoleState) -> None:
        """Feed the panels on screen; the others keep their last rows until shown."""
        snap = state.snapshot
        visible = self.panel_visible
        if snap is None:
            return
        if visible(1):
            self._one(PositionsTable).show(snap.positions)
        if visible(2):
            self._one(OrdersTable).show(snap.orders, state.now)
        if visible(3):
            self._one(LatencyPanel).show(snap.latency)
        if visible(4):
            self._one(GatesPanel).show(gates_from(snap), tier_label(snap))
        if visible(5):
            self._one(AlertsTable).show(snap.alerts)
        if visible(6):
            self._one(AuditTable).show(snap.audit_tail)
        if visible(7):
            self._one(FillsTable).show(snap.fills)

    def show_result(self, command: str, ok: bool, message: str) -> None:
        self._result_due = None
        self._one(MessageLine).show_result(command, ok, message)

    def show_result_soon(self, command: str, ok: bool, message: str) -> None:
        """A successful command's line, after the frame its events ask for (an approved order's
        row), or within RESULT_WAITS_S when none comes. The line runs across the screen: in the
        row's frame it made Textual redraw the box around both, every panel. The command's
        answer can reach the console before its events (the engine feed is polled)."""
        self._result_due = (command, ok, message)
        self.set_timer(RESULT_WAITS_S, self._show_due_result)

    def _show_due_result(self) -> None:
        if self._result_due is None:
            return
        if self.painter.holds_tick():  # an order's frame is queued: the line follows it
            self.painter.request(then=self._show_due_result)
            return
        self.show_result(*self._result_due)

    def _refresh_tabs(self) -> None:
        badges: dict[int, tuple[str, str]] = {}
        snap = self.state.snapshot if self.state is not None else None
        if snap is not None:
            if snap.pending:
                badges[0] = (str(len(snap.pending)), "bold black on #ffaf00")
            stalled = sum(1 for o in snap.orders if o.state is LifecycleState.STALLED)
            working = orders_at_broker(snap)  # as the status bar counts: a bracket's legs
            if stalled:
                badges[2] = (f"{stalled} STALLED", "bold white on #d70000")
            elif working:
                badges[2] = (str(working), "bold")
            open_positions = sum(1 for p in snap.positions if p.quantity)
            if open_positions:
                badges[1] = (str(open_positions), "bold")
            acknowledged = self.state.acknowledged if self.state is not None else frozenset()
            serious = sum(
                1
                for a in snap.alerts
                if a.level is not AlertLevel.INFO and a.event_id not in acknowledged
            )
            if serious:
                badges[5] = (f"{serious}!", "bold black on #ffaf00")
        self._one(PanelTabs).show(self._tab_active(), self._visible_tabs(), badges)

    # --- messages up -------------------------------------------------------------------

    @on(OrdersTable.ViewChanged)
    def _orders_view_changed(self, event: OrdersTable.ViewChanged) -> None:
        event.stop()
        self._panel(2).border_title = "3 Order history (h: live)" if event.history else "3 Orders"

    @on(DataTable.RowHighlighted, "#queue")
    def _queue_moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.app.post_message(PendingSelected(self.query_one(ApprovalQueue).selected_intent_id))
