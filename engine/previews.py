"""WhatIf margin previews of pending approvals, bound to the token by the hash of the order."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from contracts.broker import OrderRequest
from contracts.config import FuturesConfig
from contracts.events import PreviewRecorded
from contracts.market import MarginPreview
from engine.audit import AuditUnavailable
from engine.recorder import BackgroundTasks, EventRecorder
from engine.results import CommandResult

log = logging.getLogger("deskgate.engine")

ASK_TIMEOUT_S = 30.0
"""A preview the broker has not answered by then is failed (its task ends)."""

WhatIf = Callable[[OrderRequest], Awaitable[MarginPreview]]


class PreviewStatus(StrEnum):
    PENDING = "PENDING"
    """Asked; the broker has not answered yet."""
    READY = "READY"
    FAILED = "FAILED"
    NONE = "NONE"
    """Approve went ahead after the bounded wait without an answer."""


def order_hash(request: OrderRequest) -> str:
    """The hash an approval's preview is bound to: every field of the order that would leave,
    its orderRef (hence its intent) included."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class OrderPreview:
    """The preview of one pending approval's order (or why there is none)."""

    intent_id: str
    token_id: str
    """The token the preview was asked for: a re-offered intent (new token) is asked again."""
    order_hash: str
    status: PreviewStatus
    preview: MarginPreview | None = None
    reason: str = ""
    asked_mono: float = 0.0
    """When it was asked (real monotonic seconds), for the console's bounded "preview pending"."""

    @property
    def line(self) -> str:
        """`preview pending`, `preview unavailable: <reason>`, `no preview: <reason>`, or ""."""
        if self.status is PreviewStatus.PENDING:
            return "preview pending"
        if self.status is PreviewStatus.FAILED:
            return f"preview unavailable: {self.reason}"
        if self.status is PreviewStatus.NONE:
            return f"no preview: {self.reason}"
        return ""


class PreviewDesk:
    """Asks the broker's whatIf for the exact order each pending approval would send.

    Off the critical path: `request` returns at once and the answer arrives in a background
    task; a slow or failing broker never blocks or loses the intent (the preview reads
    "preview unavailable: <reason>"). Each answer is a PREVIEW bead, so the approval's
    evidence is replayable.

    Approve (`gate`) is allowed only once the preview arrived or failed. If it is still pending,
    approve waits at most `[futures] preview_wait_s` and then goes ahead with "no preview"
    recorded (a PREVIEW bead, status NONE). Whatever the status, the order about to leave must
    hash to what was previewed, for this intent and its current token; otherwise approve is
    refused PREVIEW_MISMATCH, the token is not used and the intent stays pending.
    """

    def __init__(
        self,
        recorder: EventRecorder,
        background: BackgroundTasks,
        config: FuturesConfig,
        what_if: WhatIf | None,
    ) -> None:
        self._recorder = recorder
        self._background = background
        self._config = config
        self._what_if = what_if if config.what_if_preview else None
        self._previews: dict[str, OrderPreview] = {}
        """intent_id -> its preview, kept after the approval ends (a racing second approve
        still finds it and then loses on the used token)."""
        self._requests: dict[str, OrderRequest] = {}
        self._answered: dict[str, asyncio.Event] = {}

    @property
    def enabled(self) -> bool:
        """The broker previews orders and `[futures] what_if_preview` is on."""
        return self._what_if is not None

    def get(self, intent_id: str) -> OrderPreview | None:
        return self._previews.get(intent_id)

    def request(self, intent_id: str, token_id: str, request: OrderRequest) -> None:
        """Ask for the preview of `request`, the order approving `intent_id` would send."""
        if self._what_if is None:
            return
        self._previews[intent_id] = OrderPreview(
            intent_id,
            token_id,
            order_hash(request),
            PreviewStatus.PENDING,
            asked_mono=time.monotonic(),
        )
        self._requests[intent_id] = request
        self._answered[intent_id] = asyncio.Event()
        self._background.spawn(self._ask(intent_id, token_id, request), name="what-if")

    def waiting(self, intent_id: str) -> str | None:
        """ "preview pending" while a preview is on its way and younger than the bounded wait
        (the console greys out approve meanwhile); None once approve needs no wait."""
        current = self._previews.get(intent_id)
        if current is None or current.status is not PreviewStatus.PENDING:
            return None
        if time.monotonic() - current.asked_mono >= self._config.preview_wait_s:
            return None
        return current.line

    async def _ask(self, intent_id: str, token_id: str, request: OrderRequest) -> None:
        assert self._what_if is not None
        preview: MarginPreview | None = None
        try:
            preview = await asyncio.wait_for(self._what_if(request), ASK_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            reason = f"the broker did not answer within {ASK_TIMEOUT_S:.0f}s"
        except Exception as exc:  # any broker failure only costs the preview
            reason = str(exc).strip() or type(exc).__name__
        current = self._previews.get(intent_id)
        if current is None or current.token_id != token_id:
            return  # the intent was offered again meanwhile (a new token)
        if current.status is PreviewStatus.NONE:
            log.info("preview of %s arrived after approve went ahead", intent_id)
        if preview is not None:
            self._settle(current, PreviewStatus.READY, request, preview=preview)
        else:
            self._settle(current, PreviewStatus.FAILED, request, reason=reason)

    def _settle(
        self,
        current: OrderPreview,
        status: PreviewStatus,
        request: OrderRequest,
        *,
        preview: MarginPreview | None = None,
        reason: str = "",
    ) -> None:
        settled = replace(current, status=status, preview=preview, reason=reason)
        self._previews[current.intent_id] = settled
        try:
            self._recorder.emit(
                PreviewRecorded(
                    **self._recorder.now_pair(),
                    intent_id=current.intent_id,
                    token_id=current.token_id,
                    order_hash=current.order_hash,
                    request=request,
                    status=status.value,
                    preview=preview,
                    reason=reason,
                )
            )
        except AuditUnavailable as exc:  # the preview stands; the send path checks the store
            log.error("preview of %s not recorded: %s", current.intent_id, exc)
        self._recorder.changed("preview")
        answered = self._answered.get(current.intent_id)
        if answered is not None:
            answered.set()

    async def gate(self, intent_id: str, token_id: str, request: OrderRequest) -> CommandResult:
        """Whether `request` may be sent on the approval of `intent_id` (token `token_id`):
        waits (bounded) for a pending preview, then checks the order is the previewed one."""
        if self._what_if is None:
            return CommandResult(True, "no preview: the broker has no whatIf")
        current = self._previews.get(intent_id)
        if current is None:
            return _mismatch("no preview was asked for this approval")
        if current.status is PreviewStatus.PENDING:
            answered = self._answered[intent_id]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), self._config.preview_wait_s)
            current = self._previews[intent_id]
            if current.status is PreviewStatus.PENDING:
                waited = f"the broker did not answer within {self._config.preview_wait_s:g}s"
                self._settle(current, PreviewStatus.NONE, self._requests[intent_id], reason=waited)
                current = self._previews[intent_id]
        if current.intent_id != intent_id:
            return _mismatch(f"the preview belongs to {current.intent_id}")
        if current.token_id != token_id:
            return _mismatch("the preview was made for another token of this intent")
        sending = order_hash(request)
        if current.order_hash != sending:
            return _mismatch(
                f"the order to send ({sending[:12]}) is not the one previewed "
                f"({current.order_hash[:12]})"
            )
        return CommandResult(True, current.line or "previewed")


def _mismatch(why: str) -> CommandResult:
    return CommandResult(
        False, f"PREVIEW_MISMATCH: {why}; not sent, still pending", "PREVIEW_MISMATCH"
    )
