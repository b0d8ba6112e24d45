"""Conformance: the adapter (real ib_async) connects to a replay of real TWS v176 bytes."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from broker.ibkr import BrokerRefused, ClientIdInUse, IbkrBroker, ReconnectPolicy, probe
from contracts.broker import (
    AccountUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerNotice,
    ConnectivityChanged,
    DataFarmStatus,
    OrderRequest,
)
from contracts.enums import OrderType, Side
from contracts.intent import Instrument
from engine.clock import ManualClock
from engine.ports import BrokerPort, BrokerUnavailable
from tests.integration.ibkr.conftest import FastSleep, Recorder, eventually
from tests.integration.ibkr.replay import CAPTURE_ACCOUNT, ReplayServer

SYNC_KEYS = ["5_1", "7_3", "99_0", "61_1", "6_2"]


def _broker(server: ReplayServer, **kwargs: object) -> IbkrBroker:
    kwargs.setdefault("heartbeat_s", None)  # the capture has no answer to reqCurrentTime
    return IbkrBroker("127.0.0.1", server.port, client_id=7, connect_timeout_s=5, **kwargs)  # type: ignore[arg-type]


def _order(ref: str = "dg:i1:ENTRY") -> OrderRequest:
    return OrderRequest(
        order_ref=ref,
        instrument=Instrument(symbol="AAPL"),
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("100.00"),
    )


async def test_connects_and_reads_the_recorded_account(
    replay: ReplayServer, recorder: Recorder
) -> None:
    broker = _broker(replay)
    assert isinstance(broker, BrokerPort)
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        assert broker.connected
        connected = recorder.of(BrokerConnected)
        assert [(c.account_id, c.is_paper) for c in connected] == [(CAPTURE_ACCOUNT, True)]

        # the full sync ran before the session opened for orders
        keys = replay.keys_received()
        assert keys[:3] == ["API_", "71_2", "61_1"]
        assert keys[3:] == SYNC_KEYS

        snap = await broker.account()
        assert snap.account_id == CAPTURE_ACCOUNT
        assert snap.is_paper
        assert snap.currency == "GBP"
        assert snap.net_liquidation == Decimal("1040992.61")
        assert snap.available_funds == Decimal("1038472.36")
        assert snap.buying_power == Decimal("4153889.44")
        assert snap.cash == Decimal("1038472.36")
        assert snap.init_margin == Decimal("0.00")
        assert snap.maint_margin == Decimal("0.00")
        assert snap.cushion == Decimal("1")
        assert snap.realized_pnl == Decimal("0.00")
        assert snap.ts.tzinfo is not None

        updates = recorder.of(AccountUpdated)
        assert updates, "AccountUpdated reaches the engine"
        assert updates[-1].account.net_liquidation == Decimal("1040992.61")
        # account updated arrives before the session says it is connected
        assert recorder.events.index(updates[-1]) < recorder.events.index(connected[0])

        farms = recorder.of(DataFarmStatus)
        assert {f.farm for f in farms} >= {"usfarm.nj", "usfarm"}
        assert all(f.ok for f in farms)

        assert await broker.positions() == []
        assert await broker.open_orders() == []
        assert await broker.executions() == []
    finally:
        await broker.disconnect()
    assert not broker.connected
    assert isinstance(recorder.events[-1], BrokerDisconnected)


async def test_probe_reads_account_type_and_permissions(replay: ReplayServer) -> None:
    result = await probe("127.0.0.1", replay.port, client_id=9, timeout_s=5)
    assert result.readonly
    assert result.server_version == 176
    assert result.managed_accounts == (CAPTURE_ACCOUNT,)
    assert result.account.account_id == CAPTURE_ACCOUNT
    assert result.account.is_paper
    assert result.account.net_liquidation == Decimal("1040992.61")
    assert result.account_type == "PARTNERSHIP"
    assert result.permissions["TradingType-S"] == "STKNOPT"
    assert result.permissions["SegmentTitle-S"] == "UK Securities"
    # read-only: no order requests
    assert "5_1" not in replay.keys_received()
    assert "99_0" not in replay.keys_received()


async def test_paper_session_refuses_a_non_du_account(recorder: Recorder) -> None:
    server = ReplayServer(account="U7654321")
    await server.start()
    try:
        broker = _broker(server)
        broker.set_event_sink(recorder)
        with pytest.raises(BrokerRefused, match="not a paper"):
            await broker.connect()
        assert not broker.connected
        assert not recorder.of(BrokerConnected)
    finally:
        await server.stop()


async def test_live_session_needs_the_confirmed_account() -> None:
    server = ReplayServer(account="U7654321")
    await server.start()
    try:
        wrong = _broker(server, live_confirmed_account="U1111111")
        with pytest.raises(BrokerRefused):
            await wrong.connect()
        right = _broker(server, live_confirmed_account="U7654321")
        await right.connect()
        snap = await right.account()
        assert not snap.is_paper
        await right.disconnect()
    finally:
        await server.stop()


@pytest.mark.parametrize("port", [4001, 7496])
async def test_live_ports_refused_without_confirmation(port: int) -> None:
    broker = IbkrBroker("127.0.0.1", port, client_id=1)
    started = time.monotonic()
    with pytest.raises(BrokerRefused, match="LIVE"):
        await broker.connect()
    assert time.monotonic() - started < 0.5  # refused before any socket is opened


async def test_client_id_in_use_fails_fast() -> None:
    server = ReplayServer(client_id_in_use=True)
    await server.start()
    try:
        broker = _broker(server)
        started = time.monotonic()
        with pytest.raises(ClientIdInUse):
            await broker.connect()
        assert time.monotonic() - started < 2.0  # not the 5-s connect timeout
        assert not broker.connected
    finally:
        await server.stop()


async def test_drop_blocks_orders_then_reconnects_with_a_full_resync(
    replay: ReplayServer, recorder: Recorder
) -> None:
    clock = ManualClock()
    sleep = FastSleep(clock)
    broker = _broker(replay, clock=clock, sleep=sleep)
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        before = len(replay.received)
        replay.refuse = True
        replay.drop_connections()
        await eventually(lambda: recorder.of(BrokerDisconnected), what="disconnect event")
        with pytest.raises(BrokerUnavailable):
            await broker.submit(_order())
        await eventually(lambda: len(sleep.delays) >= 3, what="failed attempts")
        assert sleep.delays[:3] == [0.5, 1.0, 2.0]  # backoff
        replay.refuse = False
        await eventually(lambda: len(recorder.of(BrokerConnected)) == 2, what="reconnect")
        assert broker.connected
        again = [r.key for r in replay.received[before:]]
        assert again[:3] == ["API_", "71_2", "61_1"]
        assert again[3:] == SYNC_KEYS
        assert replay.connections == 2
    finally:
        await broker.disconnect()


async def test_reconnect_after_326_waits_and_respects_the_minute_budget(
    replay: ReplayServer, recorder: Recorder
) -> None:
    clock = ManualClock()
    sleep = FastSleep(clock)
    policy = ReconnectPolicy(client_id_in_use_delay_s=15.0)
    broker = _broker(replay, clock=clock, sleep=sleep, reconnect=policy)
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        replay.client_id_in_use = True
        replay.drop_connections()
        await eventually(lambda: len(sleep.delays) >= 4, what="several 326 retries")
        replay.client_id_in_use = False
        await eventually(lambda: len(recorder.of(BrokerConnected)) == 2, timeout=10)
        # every retry after a 326 waited at least the client-id pause: no tight loop
        assert all(d >= 15.0 for d in sleep.delays[1:])
        # and never more than 6 attempts in any minute of (manual) time
        assert policy.attempts_in_last_minute(clock.monotonic()) <= 6
    finally:
        await broker.disconnect()


async def test_connectivity_lost_blocks_orders_until_restored_and_resynced(
    replay: ReplayServer, recorder: Recorder
) -> None:
    broker = _broker(replay)
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        replay.send_to_all(["4", "2", "-1", "1100", "Connectivity between IB and TWS lost.", ""])
        await eventually(lambda: recorder.of(ConnectivityChanged), what="1100")
        assert not broker.connected
        with pytest.raises(BrokerUnavailable, match="1100"):
            await broker.submit(_order())
        before = len(replay.received)
        replay.send_to_all(["4", "2", "-1", "1102", "Connectivity restored, data maintained.", ""])
        await eventually(lambda: len(recorder.of(ConnectivityChanged)) == 2, what="1102")
        restored = recorder.of(ConnectivityChanged)[-1]
        assert restored.connected and not restored.data_lost
        # ib_async itself re-requests the account summary (62_1) on 1102
        assert [r.key for r in replay.received[before:] if r.key != "62_1"] == SYNC_KEYS
        assert broker.connected
    finally:
        await broker.disconnect()


@pytest.mark.slow
async def test_a_burst_of_200_submits_is_paced_below_tws_limit(replay: ReplayServer) -> None:
    broker = _broker(replay, max_messages_per_second=45)
    await broker.connect()
    sent: list[float] = []  # when each frame hit the socket (what pacing controls)
    conn = broker._ib.client.conn
    write = conn.sendMsg

    def timed_write(data: bytes) -> None:
        sent.append(asyncio.get_running_loop().time())
        write(data)

    conn.sendMsg = timed_write
    try:
        started = len(replay.received)
        await asyncio.wait_for(
            asyncio.gather(*(broker.submit(_order(f"dg:burst{i}:ENTRY")) for i in range(200))),
            timeout=15,
        )
        await eventually(
            lambda: sum(1 for r in replay.received[started:] if r.key.startswith("3_")) == 200,
            timeout=5,
            what="200 placeOrder frames",
        )
        # Send times, not the replay server's read times: on one busy loop reads bunch up.
        busiest = max(sum(1 for u in sent if t <= u < t + 1.0) for t in sent)
        assert busiest <= 45, f"{busiest} messages sent within 1 s"
        assert sent[-1] - sent[0] >= 4 * 1.0  # 200 messages needed at least four seconds
        ids = [int(r.fields[1]) for r in replay.received[started:] if r.key.startswith("3_")]
        assert len(set(ids)) == 200  # every order its own id
    finally:
        await broker.disconnect()


async def test_a_silent_tws_is_detected_by_the_heartbeat(
    replay: ReplayServer, recorder: Recorder
) -> None:
    clock = ManualClock()
    broker = _broker(replay, heartbeat_s=0.2, clock=clock, sleep=FastSleep(clock))
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        # the replay never answers reqCurrentTime (49): like a half-open socket
        await eventually(lambda: recorder.of(BrokerDisconnected), what="heartbeat timeout")
        assert "heartbeat" in recorder.of(BrokerDisconnected)[0].reason
        assert "49_1" in replay.keys_received()
        await eventually(lambda: len(recorder.of(BrokerConnected)) == 2, what="reconnect")
    finally:
        await broker.disconnect()


async def test_reconnect_to_another_account_is_refused(
    replay: ReplayServer, recorder: Recorder
) -> None:
    clock = ManualClock()
    broker = _broker(replay, clock=clock, sleep=FastSleep(clock))
    broker.set_event_sink(recorder)
    await broker.connect()
    try:
        await broker.submit(_order())  # the session now has orders of this account
        replay.account = "DU0000001"
        replay.drop_connections()
        await eventually(
            lambda: any("refused" in n.message for n in recorder.of(BrokerNotice)),
            what="refusal",
        )
        assert len(recorder.of(BrokerConnected)) == 1
        assert not broker.connected
    finally:
        await broker.disconnect()
