"""Event ids: unique within a process and across a fork, in the 32-hex-digit form beads carry."""

from __future__ import annotations

import os
import re

from contracts.events import new_event_id


def test_event_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = [new_event_id() for _ in range(100_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids[:1000])
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_draw_its_parents_next_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave without running pytest's teardown
        os.write(write, " ".join(new_event_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 4096).decode().split())
    os.close(read)
    parent = {new_event_id() for _ in range(3)}
    assert len(child) == 3
    assert not child & parent
