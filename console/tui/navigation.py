"""The console's other screens, each imported when first shown (none is in the first frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.cli.promote import SHADOW_FILE
from console.tui.keymap import ACTIONS, PANEL_KEYS

if TYPE_CHECKING:
    from console.tui.app import DeskgateApp
    from console.tui.screens.views import StateScreen
    from engine.view import OrderView


def state_screen(name: str) -> type[StateScreen]:
    """The full screen one key toggles: "drift", "gates" or "audit"."""
    if name == "drift":
        from console.tui.screens.drift import DriftScreen

        return DriftScreen
    from console.tui.screens.views import AuditScreen, GatesScreen

    return {"gates": GatesScreen, "audit": AuditScreen}[name]


def toggle_view(app: DeskgateApp, name: str) -> None:
    """Show the state screen `name` (closing any other one), or close it when it shows."""
    from console.tui.screens.views import StateScreen

    kind = state_screen(name)
    if isinstance(app.screen, kind):
        app.pop_screen()
        return
    while isinstance(app.screen, StateScreen):
        app.pop_screen()
    app.push_screen(kind(stale_threshold_s=app.config.stale.threshold_min * 60))


def show_limits(app: DeskgateApp) -> None:
    from console.tui.screens.limits import LimitsScreen

    app.push_screen(LimitsScreen(app.engine))


def show_promote(app: DeskgateApp) -> None:
    from console.tui.screens.promote import PromoteScreen

    evidence = app.config.resolved_data_dir() / SHADOW_FILE
    app.push_screen(PromoteScreen(app.engine, evidence))


def show_help(app: DeskgateApp) -> None:
    from console.tui.screens.views import HelpScreen

    rows = [(app.key_display(spec.id), spec.label, spec.help) for spec in ACTIONS]
    app.push_screen(HelpScreen(rows, list(PANEL_KEYS)))


def open_ticket(app: DeskgateApp, replaces: OrderView | None = None) -> None:
    """The order ticket; pre-filled to replace `replaces` when given."""
    from console.tui.screens import ticket

    ticket.open_ticket(app, replaces=replaces)
