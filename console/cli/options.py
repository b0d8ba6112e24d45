"""What every `deskgate` verb shares: the common options, the config they build, one-line errors."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from contracts.enums import DEFAULT_MODE, ChaosMode, Mode

if TYPE_CHECKING:  # pydantic and the config models load when a verb reads its config
    from pydantic import ValidationError

    from contracts.config import Config

DEFAULT_CONFIG = Path("~/.config/deskgate/deskgate.toml")

SubParsers = argparse._SubParsersAction  # the type `add_subparsers()` returns


class CliError(Exception):
    """A usage or input problem; its message is the one line the trader sees."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised, printed by the dispatcher)."""

    def error(self, message: str) -> NoReturn:
        verb = self.prog.removeprefix("deskgate").strip()
        raise CliError(f"{verb}: {message}" if verb else message)


def fail(message: str, code: int = 2) -> int:
    """Print `deskgate: message` on standard error; return the exit status."""
    print(f"deskgate: {message}", file=sys.stderr)
    return code


def chaos_mode(value: str) -> str:
    upper = value.upper()
    if upper not in ChaosMode.__members__:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(m.value for m in ChaosMode)}")
    return upper


@dataclass(frozen=True)
class CommonOption:
    """An option any verb may take, before or after its name."""

    flag: str
    help: str
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


COMMON = {
    o.dest: o
    for o in (
        CommonOption("--config", "TOML config file (default ~/.config/deskgate/deskgate.toml)", {}),
        CommonOption("--data-dir", "where audit stores live (default $XDG_DATA_HOME/deskgate)", {}),
        CommonOption(
            "--broker",
            "sim: in-process venue; gateway: the TWS-protocol paper gateway (embedded when "
            "--port is 0); ibkr: a real TWS / IB Gateway",
            {"choices": ("sim", "gateway", "ibkr")},
        ),
        CommonOption("--host", "TWS / gateway host (default 127.0.0.1)", {}),
        CommonOption(
            "--port",
            "API port: 4002/7497 paper, 4001/7496 live; 0 = embedded gateway",
            {"type": int},
        ),
        CommonOption("--client-id", "API client id (default 1)", {"type": int}),
        CommonOption("--seed", "simulated venue seed (same seed, same market)", {"type": int}),
        CommonOption(
            "--chaos",
            "simulated venue behaviour: INSTANT, REALISTIC, ADVERSARIAL",
            {"type": chaos_mode},
        ),
        CommonOption("--no-demo", "no demo intent source", {"action": "store_true"}),
        CommonOption(
            "--override-gates",
            "start live mode although gate 8 does not pass (the typed reason is audited)",
            {"metavar": "REASON"},
        ),
    )
}
"""Every common option; a verb takes the subset that means something to it."""

FILES = ("config", "data_dir")
BROKER = (*FILES, "broker", "host", "port", "client_id", "seed", "chaos")
CONSOLE = (*BROKER, "no_demo", "override_gates")

BEFORE = "before_"
"""Prefix of the options given before the verb's name (`deskgate --data-dir D audit`)."""
AUDIT_LEVEL = "group_"
"""Prefix of the options given between a verb and its action (`deskgate audit --file F verify`)."""


def add_common(
    parser: argparse.ArgumentParser, accepts: Iterable[str], *, prefix: str = "", verb: str = ""
) -> None:
    """Add every common option to `parser`; only those in `accepts` are shown in its help.

    Values are stored only when given (so a nested parser never overwrites an outer one). The
    rest are parsed too, so that `resolve_common` can refuse them by name. A leaf parser (`verb`
    set) records which options it accepts.
    """
    accepts = frozenset(accepts)
    group = parser.add_argument_group("common options")
    for name, option in COMMON.items():
        kwargs = dict(option.kwargs)
        if kwargs.get("action") != "store_true":
            kwargs.setdefault("metavar", name.upper())
        group.add_argument(
            option.flag,
            dest=prefix + name,
            default=argparse.SUPPRESS,
            help=option.help if name in accepts else argparse.SUPPRESS,
            **kwargs,
        )
    if verb:
        parser.set_defaults(verb=verb, accepts=accepts)


def resolve_common(args: argparse.Namespace) -> None:
    """Merge common options given before the verb, between verb and action, and after.

    An option given in two places with different values, or given before a verb that does not
    take it, is refused; nothing is silently dropped. A verb parser that declares its options
    itself (without `add_common`) takes those it declares.
    """
    if not hasattr(args, "accepts"):
        args.accepts = frozenset(name for name in COMMON if hasattr(args, name))
        args.verb = args.command
    accepts: frozenset[str] = args.accepts
    for name, option in COMMON.items():
        given = [
            getattr(args, prefix + name)
            for prefix in (BEFORE, AUDIT_LEVEL, "")
            if getattr(args, prefix + name, None) is not None
        ]
        distinct = list(dict.fromkeys(given))
        if len(distinct) > 1:
            values = " and ".join(str(v) for v in distinct)
            raise CliError(f"{option.flag} given twice with different values ({values})")
        if distinct and name not in accepts:
            raise CliError(f"{option.flag} does not apply to `deskgate {args.verb}`")
        default = False if option.kwargs.get("action") == "store_true" else None
        setattr(args, name, distinct[0] if distinct else default)


def config_path(arg: str | None) -> Path | None:
    """The config file named on the command line, else the default one if it exists."""
    if arg:
        return Path(arg).expanduser()
    default = DEFAULT_CONFIG.expanduser()
    return default if default.exists() else None


def configured_mode(args: argparse.Namespace) -> Mode:
    """The mode named in the config file `load` reads, read without validating the file (the
    console's first frame shows it). DEFAULT_MODE when it names none (as `Config`), or when
    it cannot be read or names no mode: `load` then refuses it in its own words."""
    path = config_path(args.config)
    if path is None:
        return DEFAULT_MODE
    import tomllib  # only when there is a file to read

    try:  # read as `load_config` reads it (text mode: "\r" and "\r\n" end lines)
        named = tomllib.loads(path.read_text(encoding="utf-8")).get("mode")
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not TOML, too deep
        return DEFAULT_MODE
    return Mode(named) if named in tuple(Mode) else DEFAULT_MODE


def check_config_private(path: Path) -> None:
    """Refuse a config others could have edited, as ssh refuses such a key (one-line error)."""
    from contracts.config import ConfigError

    try:
        info = path.stat()
    except OSError:
        return  # the loader reports a missing or unreadable file
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"{path}: writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"deskgate trusts its config, so it refuses this one: run chmod go-w {path}"
        )
    if info.st_uid not in (os.getuid(), 0):
        raise ConfigError(
            f"{path}: owned by uid {info.st_uid}, not by you; deskgate refuses a config "
            "another user controls"
        )


def load(args: argparse.Namespace) -> Config:
    """The config file with the command line's broker and data-dir options applied."""
    from pydantic import ValidationError

    from contracts.config import Config, load_config

    path = config_path(args.config)
    if path is not None:
        check_config_private(path)
    config = load_config(path)
    broker = config.broker.model_dump()
    for key in ("host", "port", "client_id", "seed", "chaos"):
        value = getattr(args, key, None)
        if value is not None:
            broker[key] = value
    if getattr(args, "broker", None) is not None:
        broker["kind"] = args.broker
    data = config.model_dump()
    data["broker"] = broker
    if getattr(args, "data_dir", None):
        data["data_dir"] = str(Path(args.data_dir).expanduser())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise CliError(_option_error(exc)) from None


def _option_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    name = loc[-1] if loc else ""
    flag = "--broker" if loc[:2] == ["broker", "kind"] else f"--{name.replace('_', '-')}"
    return f"{flag}: {err['msg']}"
