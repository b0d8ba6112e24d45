"""The `deskgate` command line: console (default), init, propose, audit, gateway."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from console import commands_live, control_client, gates_cli, golive, paper
from console.compose import check_config_private, private_files
from contracts.config import Config, ConfigError, load_config, write_default_config
from contracts.enums import ChaosMode
from engine.audit import AuditUnavailable, open_read_only
from engine.audit_verify import verify_store
from engine.intake import IntakeError, parse_intents, send_intents

DEFAULT_CONFIG = Path("~/.config/deskgate/deskgate.toml")


def _fail(message: str, code: int = 2) -> int:
    print(f"deskgate: {message}", file=sys.stderr)
    return code


def _config_path(arg: str | None) -> Path | None:
    if arg:
        return Path(arg).expanduser()
    default = DEFAULT_CONFIG.expanduser()
    return default if default.exists() else None


def _load(args: argparse.Namespace) -> Config:
    path = _config_path(getattr(args, "config", None))
    if path is not None:
        check_config_private(path)
    config = load_config(path)
    broker = config.broker.model_dump()
    for key in ("kind", "host", "port", "client_id", "seed"):
        value = getattr(args, key if key != "kind" else "broker", None)
        if value is not None:
            broker[key] = value
    if getattr(args, "chaos", None):
        broker["chaos"] = args.chaos
    update: dict[str, object] = {"broker": type(config.broker).model_validate(broker)}
    if getattr(args, "data_dir", None):
        update["data_dir"] = str(Path(args.data_dir).expanduser())
    return Config.model_validate({**config.model_dump(), **update})


def _chaos(value: str) -> str:
    upper = value.upper()
    if upper not in ChaosMode.__members__:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(m.value for m in ChaosMode)}")
    return upper


# --- console ---------------------------------------------------------------------------------


def cmd_console(args: argparse.Namespace) -> int:
    from console.app import DeskgateApp
    from console.compose import StartupRefused, build_session, start_log, stop_on_hangup

    config = _load(args)
    data_dir = config.resolved_data_dir()
    try:
        start_log(data_dir)
        session = build_session(config, data_dir=data_dir, demo=False if args.no_demo else None)
    except (StartupRefused, IntakeError, AuditUnavailable) as exc:
        return _fail(str(exc))
    gates, refused = golive.live_start_check(config, args.override_gates, "trader")
    if refused:
        return _fail(refused)
    session.engine.publish_gates(gates)
    app = DeskgateApp(session.engine, config=config, live_account_check=session.live_account)

    async def run() -> None:
        stop_on_hangup(app)
        try:
            await session.start_venue()
            await app.run_async()
        finally:
            await session.close()

    asyncio.run(run())
    return app.return_code or 0


# --- init, propose ---------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config).expanduser() if args.config else DEFAULT_CONFIG.expanduser()
    write_default_config(path, overwrite=args.force)
    print(f"wrote {path}")
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    config = _load(args)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except OSError as exc:
        return _fail(f"{args.file}: {exc.strerror or exc}")
    try:
        intents = parse_intents(text)
    except IntakeError as exc:
        return _fail(f"{args.file}: {exc}")
    socket = (
        Path(config.intake.socket_path)
        if config.intake.socket_path
        else config.resolved_data_dir() / "intake.sock"
    )
    try:
        replies = asyncio.run(send_intents(socket, intents))
    except ConnectionError as exc:
        return _fail(str(exc))
    failed = 0
    for reply in replies:
        status = "accepted" if reply.get("ok") else "refused"
        failed += not reply.get("ok")
        print(f"{reply.get('intent_id')}: {status}: {reply.get('message')}")
    return 1 if failed else 0


# --- audit -----------------------------------------------------------------------------------


def _audit_file(args: argparse.Namespace) -> Path:
    if args.file:
        return Path(args.file).expanduser()
    config = _load(args)
    data_dir = config.resolved_data_dir()
    candidates = sorted(data_dir.rglob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not candidates:
        raise AuditUnavailable(f"no audit store under {data_dir}")
    return candidates[0]


def cmd_audit(args: argparse.Namespace) -> int:
    try:
        path = _audit_file(args)
        if args.action == "verify":  # read-only: verify never writes to the store or beside it
            report = verify_store(path)
            for line in (*report.problems, *report.notes):
                print(line)
            verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
            print(f"{path}: {report.checked} beads checked, hash chain {verdict}")
            return 0 if report.ok else 1
        store = open_read_only(path)
    except AuditUnavailable as exc:
        return _fail(str(exc))
    try:
        if args.action == "tail":
            for row in store.tail(args.n):
                intent = row.intent_id or "-"
                print(f"{row.seq:>7} {row.ts} {row.kind:<18} {intent:<24} {row.hash[:12]}")
            return 0
        out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        try:
            n = store.export_jsonl(out)
        finally:
            if out is not sys.stdout:
                out.close()
        if out is not sys.stdout:
            print(f"exported {n} beads to {args.out}")
        return 0
    finally:
        store.close()


# --- gateway ---------------------------------------------------------------------------------


def cmd_gateway(args: argparse.Namespace) -> int:
    from broker.gateway.server import run_gateway

    print(
        f"deskgate gateway: TWS protocol on 127.0.0.1:{args.port} "
        f"(account {args.account}, seed {args.seed}, chaos {args.chaos}); Ctrl-C stops it",
        file=sys.stderr,
    )
    try:
        asyncio.run(run_gateway(args.port, args.seed, ChaosMode(args.chaos), args.account))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        return _fail(f"cannot serve on port {args.port}: {exc.strerror or exc}")
    return 0


# --- parser ----------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (default ~/.config/deskgate/deskgate.toml)")
    p.add_argument("--data-dir", help="where audit stores live (default $XDG_DATA_HOME/deskgate)")


def _console_options(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument(
        "--broker",
        choices=("sim", "gateway", "ibkr"),
        help="sim: in-process venue; gateway: the TWS-protocol paper gateway (embedded when "
        "--port is 0); ibkr: a real TWS / IB Gateway",
    )
    p.add_argument("--host", help="TWS / gateway host (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, help="API port: 4002/7497 paper, 4001/7496 live; 0 = embedded gateway"
    )
    p.add_argument("--client-id", dest="client_id", type=int, help="API client id (default 1)")
    p.add_argument("--seed", type=int, help="simulated venue seed (same seed, same market)")
    p.add_argument(
        "--chaos", type=_chaos, help="simulated venue behaviour: INSTANT, REALISTIC, ADVERSARIAL"
    )
    p.add_argument("--no-demo", action="store_true", help="no demo intent source")
    p.add_argument(
        "--override-gates",
        metavar="REASON",
        help="start live mode although gate 8 does not pass (the typed reason is audited)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskgate",
        description="A terminal trading console: approve every order by keystroke.",
    )
    _console_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("console", help="open the console (the default)")
    _console_options(p)
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("init", help="write a commented default config")
    p.add_argument("--config", help="where to write it (default ~/.config/deskgate/deskgate.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "propose", help="send intents (JSON, JSON array or JSON lines) to the console"
    )
    _common(p)
    p.add_argument("file", help="a file, or - for standard input")
    p.set_defaults(func=cmd_propose)

    p = sub.add_parser("audit", help="verify, tail or export the audit log")
    _common(p)
    p.add_argument("--file", help="the audit store (default: the newest under the data dir)")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    asub.add_parser("verify", help="check the hash chain; exit 1 on any problem")
    t = asub.add_parser("tail", help="the newest beads")
    t.add_argument("-n", type=int, default=20)
    e = asub.add_parser("export", help="every bead as JSON lines")
    e.add_argument("--out", help="file to write (default standard output)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("gateway", help="serve the simulated venue over the TWS protocol")
    p.add_argument("--port", type=int, default=4002)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--chaos", type=_chaos, default="INSTANT")
    p.add_argument("--account", default="DU1234567")
    p.set_defaults(func=cmd_gateway)

    gates_cli.register(sub)
    control_client.register(sub)  # deskgate status, deskgate kill
    commands_live.register(sub)
    paper.register(sub)
    __import__("console.chaos", fromlist=["register"]).register(sub)  # deskgate chaos
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    private_files()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_console)
    try:
        return func(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
