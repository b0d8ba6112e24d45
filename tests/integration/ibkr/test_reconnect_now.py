"""Reconnect now: a dropped session reconnects at once on request, with one connect at a time."""

from __future__ import annotations

from contracts.broker import BrokerConnected, BrokerDisconnected
from tests.integration.ibkr.conftest import Rig, eventually


async def test_reconnect_now_skips_the_backoff_wait(rig: Rig) -> None:
    rig.sleep.gate.clear()  # the backoff wait would hold the loop for ever
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    await eventually(lambda: rig.sleep.delays, what="the loop waiting")
    assert not rig.broker.connected

    said = rig.broker.reconnect_now()
    assert "reconnecting now" in said
    await eventually(lambda: len(rig.events.of(BrokerConnected)) == 2, what="reconnected")
    assert rig.broker.connected
    assert rig.broker.reconnect_now() == "already connected"


async def test_pressing_reconnect_now_twice_connects_once(rig: Rig) -> None:
    rig.sleep.gate.clear()
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    rig.broker.reconnect_now()
    rig.broker.reconnect_now()  # a second press while the first attempt runs
    await eventually(lambda: len(rig.events.of(BrokerConnected)) == 2, what="reconnected")
    await rig.broker.quiesce()
    assert len(rig.events.of(BrokerConnected)) == 2
    assert rig.broker.connected
