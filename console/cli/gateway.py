"""`deskgate gateway`: serve the simulated venue over the TWS protocol on loopback."""

from __future__ import annotations

import argparse
import sys

from console.cli.options import SubParsers, add_common, fail, load
from contracts.enums import ChaosMode

DEFAULT_PORT = 4002


def register(sub: SubParsers) -> None:
    p = sub.add_parser("gateway", help="serve the simulated venue over the TWS protocol")
    add_common(p, ("config", "port", "seed", "chaos"), verb="gateway")
    p.add_argument("--account", default="DU1234567", help="the paper account it reports")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from broker.gateway.server import run_gateway

    port = DEFAULT_PORT if args.port is None else args.port
    venue = load(args).broker  # seed and chaos from the config unless given here
    print(
        f"deskgate gateway: TWS protocol on 127.0.0.1:{port} "
        f"(account {args.account}, seed {venue.seed}, chaos {venue.chaos.value}); "
        "Ctrl-C stops it",
        file=sys.stderr,
    )
    try:
        asyncio.run(run_gateway(port, venue.seed, ChaosMode(venue.chaos), args.account))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        return fail(f"cannot serve on port {port}: {exc.strerror or exc}")
    return 0
