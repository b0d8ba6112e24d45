"""`deskgate init`: write a commented default config (the risk constitution)."""

from __future__ import annotations

import argparse
from pathlib import Path

from console.cli.options import DEFAULT_CONFIG, SubParsers, add_common


def register(sub: SubParsers) -> None:
    p = sub.add_parser("init", help="write a commented default config")
    add_common(p, ("config",), verb="init")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from contracts.config import write_default_config

    path = Path(args.config).expanduser() if args.config else DEFAULT_CONFIG.expanduser()
    write_default_config(path, overwrite=args.force)
    print(f"wrote {path}")
    return 0
