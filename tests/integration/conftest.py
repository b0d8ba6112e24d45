"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.compose import Session, build_session
from contracts.config import Config


@pytest.fixture
async def control_session(tmp_path: Path) -> AsyncIterator[Session]:
    """A real engine on the sim venue, serving its control socket in `tmp_path`."""
    config = Config.model_validate({"broker": {"kind": "sim"}, "intake": {"demo": False}})
    session = build_session(config, data_dir=tmp_path)
    await session.start_venue()
    await session.engine.start()
    try:
        yield session
    finally:
        await session.close()
