"""Off-screen alerts: what rings, rate limits, escalation, sinks that fail, apprise end to end."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from console.notify_sinks import AppriseSink, TerminalSink, terminal_bytes
from contracts.enums import (
    AlertLevel,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    TradingState,
    Trigger,
)
from contracts.events import (
    AlertRaised,
    DriftDetected,
    DriftResolved,
    PositionBead,
    TradingStateChanged,
)
from engine.bus import EventBus
from engine.clock import ManualClock
from engine.notify import AlertDispatcher, Notification, NotifyPolicy
from tests.support import eventually

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
T = {"ts_event": NOW, "ts_init": NOW}


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.got: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.got.append(notification)


class Broken:
    name = "broken"

    async def send(self, notification: Notification) -> None:
        raise OSError("service down")


class Hanging:
    name = "hanging"

    async def send(self, notification: Notification) -> None:
        await asyncio.Event().wait()


def stalled(intent_id: str = "i-1") -> AlertRaised:
    return AlertRaised(
        **T, level=AlertLevel.WARNING, code="STALLED", message="no ack", intent_id=intent_id
    )


def drift(drift_id: str = "d-1") -> DriftDetected:
    return DriftDetected(
        **T,
        drift_id=drift_id,
        drift_type=DriftType.POSITION_SIZE,
        subject="AAPL",
        engine_state={"qty": "10"},
        broker_state={"qty": "0"},
        severity=DriftSeverity.CRITICAL,
    )


def dispatcher(*sinks: Any, **policy: Any) -> tuple[AlertDispatcher, ManualClock]:
    clock = ManualClock(NOW)
    return AlertDispatcher(EventBus(), clock, list(sinks), NotifyPolicy(**policy)), clock


async def test_stalled_rings_once_per_interval_and_info_never_rings() -> None:
    rec = Recorder()
    d, clock = dispatcher(rec, min_interval_s=30)
    await d.consider(stalled())
    await d.consider(stalled())
    await d.consider(AlertRaised(**T, level=AlertLevel.INFO, code="KILL_CONFIRMED", message="ok"))
    assert [n.code for n in rec.got] == ["STALLED"]
    assert d.suppressed == 1
    clock.advance(31)
    await d.consider(stalled())
    assert len(rec.got) == 2


async def test_all_codes_together_are_capped_per_minute() -> None:
    rec = Recorder()
    d, _ = dispatcher(rec, max_per_minute=3)
    for i in range(10):
        await d.consider(stalled(f"i-{i}"))
    assert len(rec.got) == 3
    assert d.suppressed == 7


async def test_unresolved_drift_escalates_after_15_minutes_and_resolved_drift_does_not() -> None:
    rec = Recorder()
    d, clock = dispatcher(rec)
    await d.consider(drift("d-1"))
    await d.consider(drift("d-2"))
    await d.consider(
        DriftResolved(
            **T, drift_id="d-2", resolution=DriftResolution.ACKNOWLEDGED, note="n", actor="t"
        )
    )
    clock.advance(899)
    await d.escalate_due()
    assert not any(n.escalated for n in rec.got)
    clock.advance(2)
    await d.escalate_due()
    escalated = [n for n in rec.got if n.escalated]
    assert len(escalated) == 1 and "d-1" not in escalated[0].body  # subject, not the id
    assert escalated[0].level is AlertLevel.CRITICAL and "AAPL" in escalated[0].body
    await d.escalate_due()
    assert len([n for n in rec.got if n.escalated]) == 1  # once


async def test_stalled_order_leaving_stalled_is_not_escalated() -> None:
    rec = Recorder()
    d, clock = dispatcher(rec)
    await d.consider(stalled("i-9"))
    await d.consider(
        PositionBead(
            **T,
            intent_id="i-9",
            from_state=LifecycleState.STALLED,
            to_state=LifecycleState.SUBMITTED,
            trigger=Trigger.ACK,
            requested=Decimal(1),
            filled=Decimal(0),
        )
    )
    clock.advance(1000)
    await d.escalate_due()
    assert not any(n.escalated for n in rec.got)


async def test_automatic_halt_rings_and_the_traders_own_kill_does_not() -> None:
    rec = Recorder()
    d, _ = dispatcher(rec)
    common = {**T, "previous": TradingState.ACTIVE, "current": TradingState.HALTED}
    await d.consider(TradingStateChanged(**common, reason="K pressed", actor="trader"))
    assert rec.got == []
    await d.consider(TradingStateChanged(**common, reason="daily loss", actor="engine"))
    assert [n.code for n in rec.got] == ["AUTO_KILL"]


async def test_a_failing_or_hanging_sink_never_stops_the_others() -> None:
    rec = Recorder()
    d, _ = dispatcher(Broken(), Hanging(), rec, send_timeout_s=0.05)
    await d.consider(stalled())
    assert [n.code for n in rec.got] == ["STALLED"]


async def test_the_dispatcher_reads_the_bus_in_the_background() -> None:
    rec = Recorder()
    clock = ManualClock(NOW)
    bus = EventBus()
    d = AlertDispatcher(bus, clock, [rec])
    d.start()
    try:
        bus.publish(stalled())
        await eventually(lambda: len(rec.got) == 1)
    finally:
        await d.stop()


async def test_terminal_sink_writes_bell_and_both_desktop_escapes() -> None:
    written: list[str] = []
    sink = TerminalSink(written.append)
    await sink.send(Notification(AlertLevel.CRITICAL, "DRIFT", "deskgate: drift", "AAPL 10 vs 0"))
    (out,) = written
    assert out.startswith("\a")
    assert "\x1b]777;notify;deskgate: drift;AAPL 10 vs 0\x07" in out
    assert "\x1b]9;deskgate: drift: AAPL 10 vs 0\x07" in out


class _Capture(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Capture.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def test_apprise_sink_delivers_to_a_loopback_json_endpoint() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = AppriseSink([f"json://127.0.0.1:{server.server_port}/hook"])
        await sink.send(Notification(AlertLevel.CRITICAL, "STALLED", "deskgate", "i-1 no ack"))
        await eventually(lambda: bool(_Capture.bodies))
        assert _Capture.bodies[-1]["title"] == "deskgate"
        assert _Capture.bodies[-1]["message"] == "i-1 no ack"
    finally:
        server.shutdown()


def test_apprise_sink_refuses_an_unknown_url_without_echoing_its_secret() -> None:
    with pytest.raises(ValueError) as err:
        AppriseSink(["nosuchservice://bot123456:SECRET@x"])
    assert "SECRET" not in str(err.value) and "nosuchservice" in str(err.value)


def test_terminal_bytes_are_plain_text_inside_the_escape() -> None:
    out = terminal_bytes(Notification(AlertLevel.WARNING, "X", "t", "a;b"))
    assert out.count("\x07") == 3  # the bell and the two terminators: nothing else
