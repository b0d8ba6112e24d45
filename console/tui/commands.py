"""Engine commands run in workers, one at a time per key; each result is posted as CommandDone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App
from textual.worker import Worker

from console.tui.messages import CommandDone
from engine.results import CommandResult


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
