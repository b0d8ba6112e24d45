"""Modal dialogs: single-key confirmations (kill, flatten, quit), typed reasons, live start."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class KillAwareInput(Input):
    """An Input that lets the kill-switch key through, so K kills even while typing."""

    def __init__(self, *, kill_keys: Iterable[str] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.kill_keys = frozenset(kill_keys)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if key in self.kill_keys:
            return False
        return super().check_consume_key(key, character)


class ConfirmScreen(ModalScreen[bool]):
    """Ask once; a single key confirms (`y`), `n` or escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=True),
        Binding("n,escape", "answer(False)", "No", show=True),
    ]

    def __init__(self, title: str, body: str, *, danger: bool = False, hint: str = "") -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.body = body
        self.hint = hint or "y = confirm · n / escape = cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield Static(self.body, id="dialog-body")
            yield Static(self.hint, id="dialog-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class KillConfirmScreen(ConfirmScreen):
    """The kill switch's one confirming keystroke: `y` or the kill key again."""

    def __init__(self, kill_key: str, working: int) -> None:
        orders = (
            f"{working} working order{'s' if working != 1 else ''}"
            if working
            else ("no working orders")
        )
        super().__init__(
            "KILL SWITCH",
            f"Cancel every order at the broker ({orders}) and HALT trading?",
            danger=True,
            hint=f"{kill_key} or y = KILL · n / escape = cancel",
        )


class ReasonScreen(ModalScreen[str | None]):
    """Type a reason (or a note) and press enter; escape cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        required: bool,
        kill_keys: Iterable[str] = (),
        danger: bool = False,
        noun: str = "reason",
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.prompt = prompt
        self.required = required
        self.kill_keys = tuple(kill_keys)
        self.noun = noun

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield Static(self.prompt, id="dialog-body")
            yield KillAwareInput(
                kill_keys=self.kill_keys,
                placeholder=self.noun + ("" if self.required else " (optional)"),
                id="reason",
            )
            yield Static("", id="dialog-error")
            yield Static("enter = submit · escape = cancel", id="dialog-hint")

    @on(Input.Submitted, "#reason")
    def _submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if self.required and not reason:
            self.query_one("#dialog-error", Static).update(f"A {self.noun} is required.")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LiveAccountScreen(ModalScreen[bool]):
    """Live mode starts only after the trader types the expected account id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Exit")]
    MAX_ATTEMPTS = 3

    def __init__(self, expected: str, *, kill_keys: Iterable[str] = ()) -> None:
        super().__init__(classes="-danger")
        self.expected = expected
        self.kill_keys = tuple(kill_keys)
        self.attempts = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("LIVE TRADING", id="dialog-title")
            yield Static(
                "This console will send REAL orders. Type the live account id to start.",
                id="dialog-body",
            )
            yield KillAwareInput(kill_keys=self.kill_keys, placeholder="account id", id="account")
            yield Static("", id="dialog-error")
            yield Static("enter = start live · escape = exit", id="dialog-hint")

    @on(Input.Submitted, "#account")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
            return
        self.attempts += 1
        if self.attempts >= self.MAX_ATTEMPTS:
            self.dismiss(False)
            return
        event.input.value = ""
        self.query_one("#dialog-error", Static).update(
            f"Account id does not match - live start refused "
            f"({self.MAX_ATTEMPTS - self.attempts} tries left)."
        )

    def action_cancel(self) -> None:
        self.dismiss(False)
