"""Engine commands run in workers, one at a time per key; each result is posted as CommandDone
and shown on the message line and in a toast."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.worker import Worker, WorkerState

from console.tui.messages import CommandDone
from console.tui.text import printable
from engine.results import CommandResult

if TYPE_CHECKING:
    from console.tui.app import DeskgateApp


class CommandRunner:
    """Runs the trader's engine commands for `app`: a second press of a command still in flight
    (same key, e.g. `approve:<intent>`) is refused with a one-line warning."""

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._inflight: set[str] = set()

    def busy(self, key: str) -> bool:
        return key in self._inflight

    def run(
        self, name: str, key: str, call: Callable[[], Awaitable[CommandResult]], subject: str
    ) -> Worker[None] | None:
        app = self._app
        if key in self._inflight:
            app.notify(f"{name} already in progress", severity="warning", timeout=2, markup=False)
            return None
        self._inflight.add(key)

        async def run() -> None:
            try:
                result = await call()
            finally:
                self._inflight.discard(key)
            app.post_message(CommandDone(name, result, subject))

        return app.run_worker(run(), name=f"cmd:{name}", group="commands", exit_on_error=False)


def show_command_done(app: DeskgateApp, message: CommandDone) -> None:
    """A command's result: ok for 4 s, a refusal for 8 s (echoed with its subject)."""
    result = message.result
    said = result.message or ("ok" if result.ok else "failed")
    if message.subject:
        said = f"{message.subject}: {said}"
    command, ok = message.command, result.ok
    show_outcome(app, command, ok, said, result.message, command, 4 if ok else 8)


def show_worker_error(app: DeskgateApp, event: Worker.StateChanged) -> None:
    """A command that raised (shown as failed), or the engine feed that stopped."""
    worker = event.worker
    if event.state is WorkerState.ERROR and worker.name.startswith("cmd:"):
        command = worker.name.removeprefix("cmd:")
        error = f"{type(worker.error).__name__}: {worker.error}"
        show_outcome(app, command, False, error, error, f"{command} failed", 10)
    elif event.state is WorkerState.ERROR and worker.group == "bus":
        app.notify(
            printable(f"engine feed stopped: {worker.error}"),
            severity="error",
            timeout=30,
            markup=False,
        )


def show_outcome(
    app: DeskgateApp,
    command: str,
    ok: bool,
    said: str,
    engine_words: str,
    title: str,
    timeout: float,
) -> None:
    """On the message line and in a toast; then the engine's state is shown afresh."""
    from console.tui.dialogs import RESOLVE_DRIFT

    if ok:
        app._main.show_result_soon(command, ok, said)
    else:
        app._main.show_result(command, ok, said)
    if command == RESOLVE_DRIFT:
        app.drift_result = (ok, engine_words)
    toast = partial(
        app.notify,
        printable(said),
        title=title,
        markup=False,
        severity="information" if ok else "error",
    )
    if ok:  # the result's own frame (an approved order's row) is painted first; the
        # engine's events already refreshed the screen for it, this refresh is for what has
        # no event (the command's busy key released: approve available again)
        app.call_after_refresh(partial(toast, timeout=timeout))
        app.call_after_refresh(app._refresh_from_engine)
    else:
        toast(timeout=timeout)
        app._refresh_from_engine()
