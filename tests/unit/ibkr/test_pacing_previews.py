"""WhatIf previews are paced behind orders: a burst of previews never delays an order."""

from __future__ import annotations

import asyncio

from broker.ibkr.pacing import OutboundPacer


async def test_orders_queued_after_previews_still_go_first() -> None:
    pacer = OutboundPacer(max_per_window=2, window_s=0.05)
    sent: list[str] = []
    await pacer.acquire(2)

    async def req(name: str, *, background: bool = False) -> None:
        await pacer.acquire(background=background)
        sent.append(name)

    previews = [asyncio.create_task(req(f"whatIf{i}", background=True)) for i in range(6)]
    await asyncio.sleep(0)
    orders = [asyncio.create_task(req(f"order{i}")) for i in range(2)]
    await asyncio.wait_for(asyncio.gather(*previews, *orders), 5)
    assert sent[:2] == ["order0", "order1"]
    assert sent[2:] == [f"whatIf{i}" for i in range(6)]
