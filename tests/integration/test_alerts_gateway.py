"""Off-screen alerts end to end: a STALLED order on the gateway engine reaches a loopback apprise
JSON endpoint and the terminal hook; a margin warning from the account snapshot rings too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from console.compose import TerminalHook, alert_dispatcher, build_session
from contracts.broker import AccountSnapshot, AccountUpdated
from contracts.config import AlertsConfig, Config, LifecycleConfig
from contracts.enums import LifecycleState
from engine.notify import Notification
from tests.integration.ops_support import desk_config, gateway_desk
from tests.support import approve_pending, eventually, make_intent


@contextmanager
def json_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP server that keeps every JSON body POSTed to it."""
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def alerting_config(url: str) -> Config:
    config = desk_config()
    return config.model_copy(
        update={
            "alerts": AlertsConfig(apprise_urls=[url], terminal_bell=True, min_interval_s=1.0),
            "lifecycle": LifecycleConfig(stall_timeout_s=1.0),
        }
    )


async def test_a_stalled_order_reaches_apprise_and_the_terminal(tmp_path: Path) -> None:
    with json_endpoint() as (url, received):
        config = alerting_config(url)
        async with gateway_desk(tmp_path, config) as desk:
            terminal = TerminalHook()
            written: list[str] = []
            terminal.connect(written.append)
            dispatcher = alert_dispatcher(config, desk.engine, terminal)
            assert dispatcher is not None
            dispatcher.start()
            try:
                desk.gateway.faults.delay_next_acks(30.0)
                bid, _ = desk.quote()
                intent = make_intent(
                    desk.engine.clock, limit=str(bid - Decimal("0.50")), stop_loss=None
                )
                assert (await desk.engine.propose(intent)).accepted
                assert (await approve_pending(desk.engine, intent.intent_id)).ok
                rec = desk.engine.book.records[intent.intent_id]
                await eventually(lambda: rec.state is LifecycleState.STALLED, timeout=10)
                await eventually(
                    lambda: any(m.get("title", "").endswith("STALLED") for m in received), 15
                )
                message = next(m for m in received if m["title"].endswith("STALLED"))
                assert intent.intent_id in message["message"]
                assert message["type"] == "failure"  # CRITICAL: apprise "failure"
                assert any("\x1b]777;notify;" in w and "STALLED" in w for w in written)
                assert any(w.startswith("\a") for w in written)
                assert [n.code for n in dispatcher.sent].count("STALLED") == 1
            finally:
                await dispatcher.stop()


async def test_a_margin_warning_from_the_account_snapshot_rings(tmp_path: Path) -> None:
    config = desk_config()
    async with gateway_desk(tmp_path, config) as desk:
        rung: list[Notification] = []

        class Collect:
            name = "collect"

            async def send(self, notification: Notification) -> None:
                rung.append(notification)

        dispatcher = alert_dispatcher(config, desk.engine, TerminalHook())
        assert dispatcher is not None
        dispatcher.add_sink(Collect())
        dispatcher.start()
        try:
            for cushion in ("0.30", "0.05", "0.04", "0.20", "0.06"):
                account = AccountSnapshot(
                    account_id="DU1234567",
                    is_paper=True,
                    cushion=Decimal(cushion),
                    ts=datetime.now(UTC),
                )
                desk.engine.handle_broker_event(AccountUpdated(ts=account.ts, account=account))
            alerts = [a for a in desk.engine.book.alerts if a.code == "MARGIN_WARNING"]
            assert len(alerts) == 2  # once per fall below 10%, re-armed by the recovery to 20%
            # the second fall is within min_interval_s of the first: recorded, not rung again
            await eventually(lambda: dispatcher.suppressed == 1)
            assert [n.code for n in rung] == ["MARGIN_WARNING"]
            assert rung[0].level.value == "CRITICAL" and "5.0%" in rung[0].body
        finally:
            await dispatcher.stop()


async def test_the_composition_root_starts_alerts_with_the_engine(tmp_path: Path) -> None:
    with json_endpoint() as (url, _):
        config = Config(
            broker=Config().broker.model_copy(update={"kind": "sim"}),
            alerts=AlertsConfig(apprise_urls=[url]),
        )
        session = build_session(config, data_dir=tmp_path, demo=False)
        try:
            assert session.alerts is not None
            assert [s.name for s in session.alerts.sinks] == ["terminal", "apprise"]
            await session.start_venue()
            assert session.alerts.running
        finally:
            await session.close()
        assert not session.alerts.running
