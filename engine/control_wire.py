"""The control socket's wire facts shared by server and client; stdlib only, so the client
(`deskgate kill` from a second shell) starts without loading the domain."""

from __future__ import annotations

import socket
import struct

CONTROL_SOCKET = "control.sock"
KILL_CONFIRM_TIMEOUT_S = 30.0


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED); None
    when it cannot be told, which every caller treats as a stranger."""
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)
