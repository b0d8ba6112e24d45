"""Keys as data: the action registry and the bindings built from `config.console.keys`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType

if TYPE_CHECKING:  # the config models load after the console's first frame
    from contracts.config import KeysConfig


@dataclass(frozen=True)
class ActionSpec:
    """One trader action: its id (a `KeysConfig` field), action string and help text."""

    id: str
    action: str
    label: str
    help: str
    default_key: str
    scope: str
    """"app" (works on every screen) or "main" (the main screen only)."""
    priority: bool = False
    """Checked before the focused widget sees the key (Textual's priority binding)."""
    show: bool = True


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "approve",
        "approve",
        "Approve",
        "Approve the selected pending trade",
        "a",
        "main",
        # Handled where the key arrives, not after it has bubbled from the focused list up to
        # the app (a message hop per widget, 1-2 ms under a quote stream). A focused text box
        # still takes its keys: Textual drops the bindings of the keys it types (`a`) from the
        # chain before it moves any key, so approve moved onto enter or backspace goes with
        # it (tests/security/test_console_keys.py holds this).
        priority=True,
    ),
    ActionSpec(
        "reject", "reject", "Reject", "Reject the selected trade (optional reason)", "r", "main"
    ),
    ActionSpec(
        "kill",
        "kill",
        "KILL",
        "Kill switch: cancel everything and HALT (one confirming key; ctrl+k in text boxes)",
        "K",
        "app",
    ),
    ActionSpec(
        "flatten", "flatten", "Flatten", "Close every position at market (confirm)", "F", "main"
    ),
    ActionSpec(
        "reconnect",
        "reconnect",
        "Reconnect",
        "Connect to the broker now instead of waiting for the next retry (while down,"
        " at start or after a drop)",
        "o",
        "main",
    ),
    ActionSpec(
        "cancel_order",
        "cancel_order",
        "Cancel order",
        "Orders panel: cancel the selected working or STALLED order (y confirms)",
        "c",
        "main",
        show=False,
    ),
    ActionSpec("reconcile", "reconcile", "Reconcile", "Reconcile with the broker now", "R", "main"),
    ActionSpec(
        "rearm", "rearm", "Re-arm", "Re-arm trading after HALTED (typed reason)", "E", "main"
    ),
    ActionSpec(
        "rollback",
        "rollback",
        "Rollback",
        "Roll back: halt, cancel all, flatten, verify flat and NAV, write an incident report",
        "X",
        "main",
        show=False,
    ),
    ActionSpec(
        "drift",
        "drift",
        "Drift",
        "Review unresolved broker drift and resolve it (typed note)",
        "D",
        "app",
        show=False,  # the drift banner shows the key while there is drift to resolve
    ),
    ActionSpec("gates", "gates", "Gates", "Go-live gates screen", "g", "app", show=False),
    ActionSpec("audit", "audit", "Audit", "Audit log screen", "l", "app", show=False),
    ActionSpec(
        "limits",
        "limits",
        "Limits",
        "Risk limits: change one on the running engine (loosening needs a typed reason)",
        "L",
        "main",
        show=False,
    ),
    ActionSpec(
        "promote",
        "promote",
        "Promote",
        "Promote a strategy SHADOW -> LIVE: shadow evidence, refusals, typed T2 approval",
        "P",
        "main",
        show=False,
    ),
    ActionSpec("help", "help", "Help", "This help", "question_mark", "app"),
    ActionSpec("quit", "quit", "Quit", "Quit (confirms while orders are working)", "q", "app"),
    # Last: a key the trader configures for an action above wins over these defaults.
    ActionSpec(
        "ticket",
        "ticket",
        "Ticket",
        "Order ticket: a manual order, checked as typed, sent for approval (strategy manual)",
        "n",
        "main",
    ),
    ActionSpec(
        "replace_order",
        "replace_order",
        "Replace order",
        "Orders panel: replace the selected working order (new approval; old cancelled first)",
        "m",
        "main",
        show=False,
    ),
    ActionSpec(
        "close_position",
        "close_position",
        "Close position",
        "Positions panel: close the selected position at market (y confirms)",
        "x",
        "main",
        show=False,
    ),
)
"""Every remappable action; `id` matches a `KeysConfig` field where one exists."""

KILL_CHORD = "ctrl+k"
"""The kill switch everywhere, text boxes included: a chord nobody types by accident. The
single kill key (K) is text while a text box has focus."""


PANEL_KEYS: tuple[tuple[str, str], ...] = (
    ("1-9", "Show panel 1-9 (tabs on small terminals; 9 Strategies while the bot runs)"),
    ("[ / ]", "Previous / next panel"),
    ("z", "Zoom the active panel to the full screen (again: back)"),
    ("/", "Filter the focused table (escape clears)"),
    ("s", "Cycle the focused table's sort column"),
    ("h", "Orders panel: live orders / finished order history"),
    ("space", "Alerts panel: acknowledge the selected alert"),
    ("pgup / pgdn / home / end", "Audit screen: page through the whole store"),
    ("up / down", "Move in the focused list (the approval queue selects the trade)"),
    ("tab", "Move focus between lists"),
    ("escape", "Close a screen or dialog"),
    (KILL_CHORD, "Kill switch from anywhere, even while typing in a text box"),
    ("ctrl+q", "Quit (from any screen or dialog; confirms while orders are working)"),
    ("e / b / k", "Drift screen: adopt broker / fixed at broker / acknowledge"),
)


def bindings_for(scope: str | None = None) -> list[BindingType]:
    """Textual bindings (default keys, with ids) for the actions of one scope (or all), plus
    the chords that reach past dialogs and text boxes (priority): kill and quit."""
    chords: list[BindingType] = [
        Binding(KILL_CHORD, "kill_anywhere", "KILL", id="kill_chord", priority=True, show=False),
        Binding("ctrl+q", "quit_anywhere", "Quit", id="quit_chord", priority=True, show=False),
    ]
    return (chords if scope in (None, "app") else []) + [
        Binding(
            spec.default_key,
            spec.action,
            spec.label,
            id=spec.id,
            priority=spec.priority,
            show=spec.show,
        )
        for spec in ACTIONS
        if scope is None or spec.scope == scope
    ]


def keymap_from_config(keys: KeysConfig) -> dict[str, str]:
    """Every action's key (binding id -> key) from the trader's config."""
    configured = keys.model_dump()
    return {spec.id: str(configured.get(spec.id, spec.default_key)) for spec in ACTIONS}


def remapped(keymap: dict[str, str]) -> dict[str, str]:
    """The keys the trader moved off their defaults: the keymap Textual applies. Textual
    re-applies its keymap to every binding on the focus chain at each keystroke (1-2 ms a key
    on this console), so the default layout gives it none to apply."""
    defaults = {spec.id: spec.default_key for spec in ACTIONS}
    return {action: key for action, key in keymap.items() if defaults.get(action) != key}
