"""The `deskgate` command line: one thin module per verb, the common options, the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The `deskgate` console script."""
    from console.cli.dispatch import main as dispatch

    return dispatch(argv)
