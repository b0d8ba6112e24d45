"""The three live confirmations for a verb that touches a live account: mode = "live" in the
config, DESKGATE_LIVE_CONFIRM=<account id>, and the account id typed at start-up."""

from __future__ import annotations

import sys
from typing import TextIO

from console.cli.options import CliError
from contracts.config import Config


def confirm_live_account(config: Config, typed: TextIO | None = None) -> str | None:
    """The confirmed live account (None outside live mode); CliError unless all three agree.

    The account id is read from standard input (one line), after a prompt on standard error
    that does not show it.
    """
    from console.compose import StartupRefused, live_confirmation

    try:
        account = live_confirmation(config)
    except StartupRefused as exc:
        raise CliError(str(exc)) from None
    if account is None:
        return None
    print("LIVE account: type its account id to continue: ", end="", file=sys.stderr, flush=True)
    line = (typed or sys.stdin).readline().strip()
    print(file=sys.stderr)
    if line != account:
        what = "was not typed" if not line else "typed does not match the configured account"
        raise CliError(f"live mode needs the account id typed at start-up, and it {what}")
    return account
