"""LazyIbkrBroker: nothing is built before first use; the sink, the preparation and every call
reach the one adapter it builds."""

from __future__ import annotations

from typing import Any

import pytest

from console.lazy_ibkr import LazyIbkrBroker


class RecordingAdapter:
    """Stands in for IbkrBroker: records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.sink: Any = None
        self.port = 4002
        self.connected = False

    def set_event_sink(self, sink: Any) -> None:
        self.sink = sink

    async def connect(self) -> None:
        self.calls.append(("connect", self.port))
        self.connected = True

    async def disconnect(self) -> None:
        self.calls.append(("disconnect",))

    async def cancel_all(self) -> None:
        self.calls.append(("cancel_all",))


def lazy(prepare: Any = None) -> tuple[LazyIbkrBroker, list[RecordingAdapter]]:
    built: list[RecordingAdapter] = []

    def build() -> Any:
        built.append(RecordingAdapter())
        return built[-1]

    return LazyIbkrBroker(build, prepare), built


async def test_nothing_is_built_until_used_and_a_disconnect_builds_nothing() -> None:
    broker, built = lazy()
    broker.set_event_sink(print)
    assert not broker.connected
    await broker.disconnect()
    assert built == []


async def test_a_kill_before_the_connection_reaches_the_adapter_that_then_connects() -> None:
    broker, built = lazy()
    sink = object()
    broker.set_event_sink(sink)  # type: ignore[arg-type]
    await broker.cancel_all()
    await broker.connect()
    (adapter,) = built
    assert adapter.sink is sink
    assert adapter.calls == [("cancel_all",), ("connect", 4002)]
    assert broker.connected


async def test_the_venue_is_prepared_once_before_the_first_connect_and_again_after_a_failure() -> (
    None
):
    prepared: list[int] = []

    async def prepare(adapter: Any) -> None:
        prepared.append(len(prepared))
        if len(prepared) == 1:
            raise OSError("address in use")
        adapter.port = 7000

    broker, built = lazy(prepare)
    with pytest.raises(OSError):
        await broker.connect()
    await broker.connect()
    await broker.connect()
    assert prepared == [0, 1]
    assert built[0].calls == [("connect", 7000), ("connect", 7000)]
