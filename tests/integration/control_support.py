"""What the control-socket tests share: the `deskgate` CLI run as another process."""

from __future__ import annotations

import asyncio
import sys


async def deskgate(*args: str) -> tuple[int, str, str]:
    """Run the CLI in another process while this loop keeps serving the engine."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
