"""Builds the `deskgate` parser from the verb modules and runs the chosen verb."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from console import bot_verbs, control_client
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
    resolve_common,
)

VERBS = (
    console_verb,
    init,
    propose,
    audit,
    gateway,
    chaos,
    probe,
    paper,
    gates,
    signoff,
    rollback,
    control_client,
    bot_verbs,
)
"""Every verb module, in the order `deskgate --help` lists them."""


class ShowVersion(argparse.Action):
    """`--version`: looks the installed version up only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("deskgate")
        except PackageNotFoundError:
            installed = "unknown (not installed)"
        print(f"deskgate {installed}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="deskgate",
        description="A terminal trading console: approve every order by keystroke. "
        "Without a COMMAND it opens the console; options before a COMMAND apply to it.",
    )
    parser.add_argument("--version", action=ShowVersion)
    add_common(parser, CONSOLE, prefix=BEFORE)
    parser.set_defaults(func=console_verb.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in VERBS:
        verb.register(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line with its common options resolved; CliError on any problem."""
    args = parser.parse_args(argv)
    if args.command is None:
        args.verb, args.accepts = "console", frozenset(CONSOLE)
    resolve_common(args)
    return args


DOMAIN_ERRORS = (("contracts.config", "ConfigError"), ("engine.audit", "AuditUnavailable"))
"""Errors whose message is the trader's one line, named so building the parser imports neither."""


def domain_errors() -> tuple[type[Exception], ...]:
    """The loaded ones of DOMAIN_ERRORS: an error whose module never loaded was never raised."""
    loaded = ((sys.modules.get(module), name) for module, name in DOMAIN_ERRORS)
    return tuple(getattr(module, name) for module, name in loaded if module is not None)


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # every file deskgate creates is private to the user (store, log, reports)
    try:
        args = parse(build_parser(), argv)
        status: int = args.func(args)
        return status
    except CliError as exc:
        return fail(str(exc))
    except Exception as exc:
        if isinstance(exc, domain_errors()):
            return fail(str(exc))
        if isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            return fail(f"{where}{exc.strerror or exc}")
        raise
    except KeyboardInterrupt:
        return 130
