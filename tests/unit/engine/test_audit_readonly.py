"""A read-only data dir: the engine refuses to trade, with a message naming the directory.

Tests run as root, where chmod does not stop writes; the directory is made read-only for real
with a read-only bind mount (root without CAP_SYS_ADMIN cannot run this; a non-root user gets
the same refusal from chmod 0555)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from console.compose import build_session
from contracts.config import Config
from engine.audit import AuditStore, AuditUnavailable
from tests.support import config_with


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make `directory` read-only for this process, honestly."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield
    finally:
        # A busy mount must not outlive the test: fall back to a lazy unmount.
        if subprocess.run(["umount", str(directory)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], check=True)


def test_a_new_store_in_a_read_only_dir_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with read_only(data), pytest.raises(AuditUnavailable) as refused:
        AuditStore(data / "audit.sqlite")
    assert "read-only" in str(refused.value) and str(data) in str(refused.value)
    assert not (data / "audit.sqlite").exists()


def test_an_existing_store_on_a_read_only_dir_refuses_to_trade(tmp_path: Path) -> None:
    data = tmp_path / "data"
    AuditStore(data / "audit.sqlite").close()
    with read_only(data):
        with pytest.raises(AuditUnavailable) as refused:
            AuditStore(data / "audit.sqlite")
        assert "read-only" in str(refused.value)
        config: Config = config_with().model_copy(
            update={"broker": Config().broker.model_copy(update={"kind": "sim"})}
        )
        # the composition root refuses before any broker or engine exists: no order can leave
        with pytest.raises(AuditUnavailable):
            build_session(config, data_dir=data, demo=False)
