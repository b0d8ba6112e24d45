"""Attacks on the whatIf preview an approval is bound to: approve sends only the previewed order."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.broker import OrderRequest
from contracts.config import Config
from contracts.enums import LifecycleState
from contracts.events import PreviewRecorded
from contracts.intent import ExecutionStyle, Intent
from contracts.market import MarginPreview
from engine.clock import ManualClock
from engine.engine import Engine
from engine.ports import BrokerUnavailable
from engine.previews import PreviewStatus, order_hash
from tests.support import FakeBroker, config_with, eventually, make_intent

MARGIN = MarginPreview(
    init_margin_change=Decimal("1512.50"),
    maint_margin_change=Decimal("1375.00"),
    equity_with_loan_after=Decimal("98487.50"),
    commission=Decimal("0.62"),
)


class PreviewingBroker(FakeBroker):
    """The fake broker with IB's whatIf: it records each previewed order; a test may hold the
    answer back or make it fail."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.previewed: list[OrderRequest] = []
        self.hold: asyncio.Event | None = None
        self.fail: str | None = None

    async def what_if(self, order: OrderRequest) -> MarginPreview:
        self.previewed.append(order)
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise BrokerUnavailable(self.fail)
        return MARGIN


def preview_config(wait_s: float = 0.2, **risk: Any) -> Config:
    base = config_with(**risk)
    return base.model_copy(
        update={"futures": base.futures.model_copy(update={"preview_wait_s": wait_s})}
    )


async def previewing_engine(
    tmp_path: Path, config: Config | None = None
) -> tuple[Engine, PreviewingBroker, ManualClock]:
    clock = ManualClock()
    broker = PreviewingBroker(clock)
    engine = Engine(config or preview_config(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    return engine, broker, clock


def status(engine: Engine, intent_id: str) -> PreviewStatus | None:
    preview = engine.previews.get(intent_id)
    return preview.status if preview else None


def beads(engine: Engine, intent_id: str) -> list[PreviewRecorded]:
    engine.recorder.flush()
    found = (e for e in engine.store.events() if isinstance(e, PreviewRecorded))
    return [e for e in found if e.intent_id == intent_id]


async def approve(engine: Engine, intent_id: str):  # type: ignore[no-untyped-def]
    return await engine.approve(intent_id, engine.pending_token(intent_id) or "")


async def test_approve_sends_exactly_the_previewed_order_and_the_preview_is_a_bead(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: status(engine, intent.intent_id) is PreviewStatus.READY)
    pending = engine.snapshot().pending[0]
    assert pending.preview is not None and pending.preview.preview == MARGIN
    assert (await approve(engine, intent.intent_id)).ok
    assert broker.submits == broker.previewed
    (bead,) = beads(engine, intent.intent_id)
    assert bead.status == "READY" and bead.preview == MARGIN
    assert bead.order_hash == order_hash(broker.submits[0])
    assert bead.token_id == engine.book.records[intent.intent_id].token_id
    await engine.stop()


async def test_an_order_mutated_after_its_preview_is_refused_and_stays_pending(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    intent = make_intent(clock, quantity=10)
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: status(engine, intent.intent_id) is PreviewStatus.READY)
    rec = engine.book.records[intent.intent_id]
    bigger = rec.intent.order.model_copy(update={"quantity": Decimal(40)})
    rec.intent = rec.intent.model_copy(update={"order": bigger})
    result = await approve(engine, intent.intent_id)
    assert (result.ok, result.code) == (False, "PREVIEW_MISMATCH")
    assert "not the one previewed" in result.message and "\n" not in result.message
    assert broker.submits == []
    assert rec.state is LifecycleState.PROPOSED
    assert engine.approvals.is_live(intent.intent_id)  # the token was not used up
    await engine.stop()


async def test_a_twap_whose_first_slice_changed_after_the_preview_is_refused(
    tmp_path: Path,
) -> None:
    """The token binds the intent's order, not the child that leaves: only the preview hash
    notices that the first slice is no longer what the trader saw previewed."""
    engine, broker, clock = await previewing_engine(tmp_path, preview_config(require_stop=False))
    base = make_intent(clock, quantity=10, stop_loss=None)
    style = ExecutionStyle(kind="twap", worst_price=Decimal("100.05"), slices=5)
    intent = base.model_copy(update={"order": base.order.model_copy(update={"execution": style})})
    intent = Intent.model_validate(intent.model_dump())
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: status(engine, intent.intent_id) is PreviewStatus.READY)
    assert broker.previewed[0].quantity == 2
    master = engine.instruments
    for key, facts in list(master._by_key.items()):
        master._by_key[key] = facts.model_copy(update={"size_increment": Decimal(5)})
    result = await approve(engine, intent.intent_id)
    assert result.code == "PREVIEW_MISMATCH"
    assert broker.submits == []
    await engine.stop()


async def test_a_preview_for_another_intent_cannot_be_reused(tmp_path: Path) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    first, second = make_intent(clock, quantity=10), make_intent(clock, quantity=20)
    for intent in (first, second):
        assert (await engine.propose(intent)).accepted
        await eventually(lambda i=intent: status(engine, i.intent_id) is PreviewStatus.READY)
    desk = engine.previews
    others = desk.get(second.intent_id)
    assert others is not None
    desk._previews[first.intent_id] = others
    result = await approve(engine, first.intent_id)
    assert result.code == "PREVIEW_MISMATCH" and second.intent_id in result.message
    # Relabelled as the first intent's, under its token: the order hash still differs.
    token_id = engine.book.records[first.intent_id].token_id or ""
    desk._previews[first.intent_id] = dataclasses.replace(
        others, intent_id=first.intent_id, token_id=token_id
    )
    relabelled = await approve(engine, first.intent_id)
    assert relabelled.code == "PREVIEW_MISMATCH"
    assert broker.submits == []
    assert engine.approvals.is_live(first.intent_id)
    await engine.stop()


async def test_a_preview_from_an_earlier_token_does_not_bind_the_current_one(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: status(engine, intent.intent_id) is PreviewStatus.READY)
    desk = engine.previews
    current = desk.get(intent.intent_id)
    assert current is not None
    desk._previews[intent.intent_id] = dataclasses.replace(current, token_id="0" * 16)
    result = await approve(engine, intent.intent_id)
    assert result.code == "PREVIEW_MISMATCH" and "another token" in result.message
    assert broker.submits == []
    await engine.stop()


async def test_approve_before_the_preview_waits_then_goes_ahead_with_no_preview_recorded(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    broker.hold = asyncio.Event()  # the broker never answers
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    pending = engine.snapshot().pending[0]
    assert pending.preview is not None and pending.preview.line == "preview pending"
    assert (await approve(engine, intent.intent_id)).ok
    assert len(broker.submits) == 1
    (bead,) = beads(engine, intent.intent_id)
    assert bead.status == "NONE" and "did not answer within 0.2s" in bead.reason
    broker.hold.set()
    await engine.stop()


async def test_approve_during_the_preview_proceeds_once_it_arrives(tmp_path: Path) -> None:
    engine, broker, clock = await previewing_engine(tmp_path, preview_config(wait_s=30))
    broker.hold = asyncio.Event()
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert engine.can_approve(intent.intent_id).code == "PREVIEW_PENDING"
    approving = asyncio.create_task(approve(engine, intent.intent_id))
    await eventually(lambda: len(broker.previewed) == 1)
    assert not approving.done() and broker.submits == []
    broker.hold.set()
    assert (await approving).ok
    (bead,) = beads(engine, intent.intent_id)
    assert bead.status == "READY"
    await engine.stop()


async def test_a_failing_preview_never_blocks_or_loses_the_intent(tmp_path: Path) -> None:
    engine, broker, clock = await previewing_engine(tmp_path)
    broker.fail = "margin server down"
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: status(engine, intent.intent_id) is PreviewStatus.FAILED)
    pending = engine.snapshot().pending[0]
    assert pending.preview is not None
    assert pending.preview.line == "preview unavailable: margin server down"
    assert (await approve(engine, intent.intent_id)).ok
    (bead,) = beads(engine, intent.intent_id)
    assert bead.status == "FAILED" and bead.order_hash == order_hash(broker.submits[0])
    await engine.stop()


async def test_two_approvals_racing_on_a_pending_preview_send_one_order(tmp_path: Path) -> None:
    engine, broker, clock = await previewing_engine(tmp_path, preview_config(wait_s=30))
    broker.hold = asyncio.Event()
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    racing = [asyncio.create_task(approve(engine, intent.intent_id)) for _ in range(2)]
    await eventually(lambda: len(broker.previewed) == 1)
    broker.hold.set()
    first, second = await asyncio.gather(*racing)
    assert sorted((first.ok, second.ok)) == [False, True]
    assert (second if first.ok else first).code == "ALREADY_USED"
    assert len(broker.submits) == 1
    await engine.stop()
