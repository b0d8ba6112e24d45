"""Builds the `deskgate` parser from the verb modules and runs the chosen verb."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from console.cli import (
    audit,
    chaos,
    gates,
    gateway,
    init,
    paper,
    probe,
    propose,
    rollback,
    signoff,
)
from console.cli import console as console_verb
from console.cli.options import (
    BEFORE,
    CONSOLE,
    CliError,
    OneLineParser,
    add_common,
    fail,
    parse_with,
)
from contracts.config import ConfigError

VERBS = (console_verb, init, propose, audit, gateway, chaos, probe, paper, gates, signoff, rollback)
"""Every verb module, in the order `deskgate --help` lists them."""


def deskgate_version() -> str:
    try:
        return version("deskgate")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="deskgate",
        description="A terminal trading console: approve every order by keystroke. "
        "Without a COMMAND it opens the console; options before a COMMAND apply to it.",
    )
    parser.add_argument("--version", action="version", version=f"deskgate {deskgate_version()}")
    add_common(parser, CONSOLE, prefix=BEFORE)
    parser.set_defaults(func=console_verb.run, verb="console", accepts=frozenset(CONSOLE))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_with(build_parser(), argv)
        status: int = args.func(args)
        return status
    except (CliError, ConfigError) as exc:
        return fail(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130
