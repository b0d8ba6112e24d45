"""Dev entry point: the console on a scripted fake engine. `python -m tests.console.demo_app`."""

from __future__ import annotations

import argparse

from console.tui.app import DeskgateApp
from engine.clock import ManualClock, SystemClock
from tests.console.scenarios import SCENARIOS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="pending", choices=sorted(SCENARIOS))
    parser.add_argument("--live", metavar="ACCOUNT", help="ask for this live account id first")
    parser.add_argument("--frozen", action="store_true", help="use a frozen clock")
    args = parser.parse_args()
    clock = ManualClock()
    engine = SCENARIOS[args.scenario](clock)
    engine.started = False
    engine.auto_fill = True
    engine.fill_delay = 1.5
    app_clock = clock if args.frozen else _Ticking(clock)
    app = DeskgateApp(
        engine,
        config=engine.config,
        clock=app_clock,  # type: ignore[arg-type]
        live_account_check=args.live,
    )
    app.run()


class _Ticking:
    """Wall time that starts at the scenario's frozen instant, so countdowns move."""

    def __init__(self, frozen: ManualClock) -> None:
        self._frozen = frozen
        self._system = SystemClock()
        self._t0 = self._system.monotonic()

    def now(self):  # type: ignore[no-untyped-def]
        from datetime import timedelta

        return self._frozen.now() + timedelta(seconds=self._system.monotonic() - self._t0)

    def monotonic(self) -> float:
        return self._frozen.monotonic() + self._system.monotonic() - self._t0


if __name__ == "__main__":
    main()
