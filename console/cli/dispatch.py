"""Builds the `deskgate` parser from the verb modules and runs the chosen verb."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

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
    "console.cli.console",
    "console.cli.init",
    "console.cli.propose",
    "console.cli.audit",
    "console.cli.fill_report",
    "console.cli.gateway",
    "console.cli.chaos",
    "console.cli.probe",
    "console.cli.paper",
    "console.cli.gates",
    "console.cli.signoff",
    "console.cli.promote",
    "console.cli.rollback",
    "console.control_client",
    "console.cli.limits",
    "console.bot_verbs",
)
"""Every verb module, in the order `deskgate --help` lists them (imported when the parser that
lists them is built)."""


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


def build_parser(*, verbs: bool = True) -> argparse.ArgumentParser:
    """`deskgate`'s parser; without `verbs`, the one for plain `deskgate [OPTIONS]` only."""
    parser = OneLineParser(
        prog="deskgate",
        description="A terminal trading console: approve every order by keystroke. "
        "Without a COMMAND it opens the console; options before a COMMAND apply to it.",
    )
    parser.add_argument("--version", action=ShowVersion)
    add_common(parser, CONSOLE, prefix=BEFORE)
    parser.set_defaults(func=console_verb.run, command=None)
    if verbs:
        sub = parser.add_subparsers(dest="command", metavar="COMMAND")
        for name in VERBS:
            importlib.import_module(name).register(sub)
    return parser


def parse_command_line(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, as `parse` reads it with the full parser. Plain `deskgate [OPTIONS]`
    (the console, the common case) is read without building the verbs' parsers: importing
    their modules and building them is about 30 ms of the console's time to its first frame.
    Anything else (a verb, an unknown option, help) goes to the full parser."""
    given = list(sys.argv[1:] if argv is None else argv)
    if not any(arg == "-h" or arg.startswith("--h") for arg in given):
        args, rest = build_parser(verbs=False).parse_known_args(given)
        if not rest:
            return resolved(args)
    return parse(build_parser(), given)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line with its common options resolved; CliError on any problem."""
    return resolved(parser.parse_args(argv))


def resolved(args: argparse.Namespace) -> argparse.Namespace:
    """`args` with plain `deskgate` taken as the console verb and the common options merged."""
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
        args = parse_command_line(argv)
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
