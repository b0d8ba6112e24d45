"""An MES approval through the real adapter: whatIf preview in the snapshot, approve, fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from broker.gateway import GatewayServer, running_gateway
from broker.gateway import messages as msg
from broker.ibkr.adapter import IbkrBroker
from contracts.enums import DenialReason, LifecycleState
from contracts.events import PreviewRecorded
from contracts.intent import Instrument, Intent
from engine.engine import Engine
from engine.previews import PreviewStatus
from tests.integration.gateway.conftest import ACCOUNT
from tests.support import approve_pending, config_with, eventually, make_intent

CLIENT_ID = 12
MES = Instrument(symbol="MES", sec_type="FUT", exchange="CME")
"""No expiry: the instrument master resolves the front month."""


@dataclass
class Desk:
    gateway: GatewayServer
    engine: Engine


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_gateway(seed=21, account=ACCOUNT) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        config = config_with(duplicate_window_s=0.0)
        config = config.model_copy(
            update={"futures": config.futures.model_copy(update={"preview_wait_s": 0.5})}
        )
        engine = Engine(config, broker, data_dir=tmp_path)
        await engine.start()
        gateway.venue.set_price("MES", Decimal("5900.00"), Decimal("5900.25"))
        front = await engine.instruments.resolve(MES)
        assert front.facts is not None and front.facts.expiry is not None
        expiry = front.facts.expiry.strftime("%Y%m%d")
        await engine.watch_quote(MES.model_copy(update={"expiry": expiry}))
        yield Desk(gateway, engine)
        await engine.stop()


def mes_buy(engine: Engine, intent_id: str) -> Intent:
    """1 MES at the ask, stop 12 ticks under it: 12 x $1.25 = $15.00 at risk."""
    base = make_intent(
        engine.clock, intent_id=intent_id, quantity=1, limit="5900.25", stop_loss="5897.25"
    )
    return base.model_copy(update={"order": base.order.model_copy(update={"instrument": MES})})


def preview_beads(engine: Engine, intent_id: str) -> list[PreviewRecorded]:
    engine.recorder.flush()
    found = (e for e in engine.store.events() if isinstance(e, PreviewRecorded))
    return [e for e in found if e.intent_id == intent_id]


async def test_an_mes_preview_shows_its_margin_then_approve_fills(desk: Desk) -> None:
    engine = desk.engine
    result = await engine.propose(mes_buy(engine, "mes-preview"))
    assert result.accepted, result.message

    def previewed() -> bool:
        preview = engine.previews.get("mes-preview")
        return preview is not None and preview.status is PreviewStatus.READY

    await eventually(previewed)
    (pending,) = engine.snapshot().pending
    assert pending.preview is not None and pending.preview.preview is not None
    margin = pending.preview.preview
    assert (margin.init_margin_change, margin.maint_margin_change) == (2475, 2250)
    assert margin.commission == Decimal("0.62")
    assert margin.equity_with_loan_after == Decimal("99999.38")
    assert pending.futures is not None and pending.futures.local_symbol == "MESZ6"
    assert pending.futures.tick_value == Decimal("1.25")
    assert desk.gateway.venue.orders() == []  # a whatIf places nothing
    assert (await approve_pending(engine, "mes-preview")).ok
    await eventually(lambda: engine.book.records["mes-preview"].entry_filled == 1)
    (bead,) = preview_beads(engine, "mes-preview")
    assert bead.status == "READY" and bead.request.instrument.expiry == "20261218"
    assert desk.gateway.venue.orders()[0].order_ref == "dg:mes-preview:ENTRY"


async def test_an_unanswered_preview_does_not_stop_approve_after_the_bounded_wait(
    desk: Desk,
) -> None:
    engine = desk.engine
    desk.gateway.faults.stall_next_what_ifs()
    result = await engine.propose(mes_buy(engine, "mes-stalled"))
    assert result.accepted, result.message
    (pending,) = engine.snapshot().pending
    assert pending.preview is not None and pending.preview.line == "preview pending"
    assert (await approve_pending(engine, "mes-stalled")).ok
    (bead,) = preview_beads(engine, "mes-stalled")
    assert bead.status == "NONE" and "did not answer within 0.5s" in bead.reason
    await eventually(lambda: engine.book.records["mes-stalled"].entry_filled == 1)
    assert engine.book.records["mes-stalled"].state is not LifecycleState.PROPOSED


async def test_a_read_only_tws_refusing_the_whatif_stops_the_order_before_it_leaves(
    desk: Desk,
) -> None:
    """TWS's Read-Only API refuses a whatIf as it refuses any placeOrder (321): entry is
    disabled by the preview's refusal, so approve sends nothing. ib_async leaves the whatIf
    request open on that error, so approve goes ahead on the bounded wait ("no preview")."""
    engine = desk.engine
    (session,) = [s for s in desk.gateway.sessions if s.client_id == CLIENT_ID]
    read_only = "The API interface is currently in Read-Only mode."
    session._handlers[3] = lambda fields: session.send(msg.error(int(fields[1]), 321, read_only))
    assert (await engine.propose(mes_buy(engine, "mes-ro"))).accepted
    await eventually(lambda: engine.snapshot().order_entry_refused is not None)
    result = await approve_pending(engine, "mes-ro")
    assert result.code == DenialReason.ORDER_ENTRY_REFUSED
    assert desk.gateway.venue.orders() == []
    assert preview_beads(engine, "mes-ro")[0].status == "NONE"
