"""Run one chunk of a batch: claim each line, call the completion pipeline, record, count once.

Per line (two DynamoDB writes of its own, plus what budgets/spend cost in the pipeline):
1. ``claim_line``: a conditional put; only the worker holding the claim calls the model. A
   redelivered message finds the line ``done`` and skips it, or ``busy`` (another worker holds an
   unexpired lease) and leaves the chunk for a later retry.
2. the pipeline (``completions.start`` + ``complete``): model access, budget/rate reservation,
   provider call, settle. Request id = ``batch_req_<hash(batch id, custom_id)>``, same on every attempt.
3. ``finish_line``: the result, conditional on still holding the claim.
Per chunk: one query counts its lines; ``count_chunk`` adds them to the batch once (a number set of
counted chunks guards it); whoever counts the last chunk finalizes.

Guarantee: a line's model call and spend happen once per claim, and a claim is only taken over after
its lease (``BATCH_LINE_LEASE_SECONDS``) expired, i.e. after the worker that held it died between
calling the model and recording the answer; only that crash window can repeat a call. Redelivered
messages, duplicate S3 events and re-uploads of the same object repeat nothing.

Stops: a cancelled batch (status ``cancelling``) or one whose key ran out of budget (``stop_code``)
records its remaining lines as errors without calling the model; workers re-read the batch every
``BATCH_STATUS_REFRESH_SECONDS``. Refusals that pass with time (rate limits, a 503 from the key
store) are retried in-process a few times, then the line is released for the message's next
delivery; on the last delivery (``BATCH_MAX_RECEIVES``) they are recorded as errors instead, so a
batch always finishes. Any other exception in the pipeline is recorded as a 500 for that line and
never retried: it may have happened after the provider answered.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway import completions, errors
from gateway.batch import aio, blobs, finalize, ids, jsonl, store
from gateway.batch import principal as owners
from gateway.batch import settings as batch_settings
from gateway.batch.formats import TERMINAL, error_line, response_line

log = logging.getLogger(__name__)
MAX_INLINE_RESULT = 350_000  # bytes; a DynamoDB item holds 400 KB, bigger results go to S3

STOP_MESSAGES = {
    "batch_cancelled": "The batch was cancelled before this request ran.",
    "budget_exceeded": "The batch stopped because the key's budget is exhausted; this request was not run.",
    "batch_expired": "The batch passed its completion window before this request ran.",
}


class ChunkIncomplete(Exception):
    """Some lines are held by another worker or were refused for now: deliver the message again.
    ``out_of_time``: the invocation is ending; the handler re-sends the work item instead."""

    def __init__(self, message: str, out_of_time: bool = False) -> None:
        super().__init__(message)
        self.out_of_time = out_of_time


@dataclass(frozen=True)
class Chunk:
    batch_id: str
    chunk: int
    first: int
    count: int
    start: int
    end: int
    line_no: int = 1
    dups: tuple[int, ...] = ()

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> "Chunk":
        return cls(batch_id=str(body["batch_id"]), chunk=int(body["chunk"]), first=int(body["first"]),
                   count=int(body["count"]), start=int(body["start"]), end=int(body["end"]),
                   line_no=int(body.get("line_no", 1)), dups=tuple(int(d) for d in body.get("dups", ())))

    def message(self) -> dict[str, Any]:
        return {"type": "chunk", "batch_id": self.batch_id, "chunk": self.chunk, "first": self.first,
                "count": self.count, "start": self.start, "end": self.end, "line_no": self.line_no,
                "dups": list(self.dups)}


Outcome = Literal["done", "pending"]


@dataclass
class _Context:
    batch: dict[str, Any]
    chunk: Chunk
    last_attempt: bool
    deadline: float | None
    settings: batch_settings.BatchSettings
    engine: Any = None
    engine_settings: Any = None  # gateway Settings (max body bytes)
    principal: Any = None
    principal_error: errors.GatewayError | None = None
    stop: str | None = None
    single: bool = False  # a stand-alone request: no batch item to re-read or to stop
    refreshed: float = field(default_factory=time.monotonic)
    _refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def batch_id(self) -> str:
        return self.batch["id"]

    def _stop_from(self, batch: dict[str, Any]) -> str | None:
        if batch.get("status") in ("cancelling", "cancelled"):
            return "batch_cancelled"
        if batch.get("stop_code"):
            return batch["stop_code"]
        if not self.single and batch.get("expires_at") and time.time() > int(batch["expires_at"]):
            return "batch_expired"  # past its 24 h completion window
        return None

    async def stop_reason(self) -> str | None:
        if self.stop or self.single:
            return self.stop
        if time.monotonic() - self.refreshed >= self.settings.status_refresh_seconds:
            async with self._refresh_lock:
                if time.monotonic() - self.refreshed >= self.settings.status_refresh_seconds:
                    fresh = await aio.blocking(store.get_batch, self.batch_id)
                    self.refreshed = time.monotonic()
                    if fresh:
                        self.batch = fresh
        self.stop = self.stop or self._stop_from(self.batch)
        if self.stop == "batch_expired" and not self.batch.get("stop_code"):
            self.batch["stop_code"] = "batch_expired"
            await aio.blocking(store.set_stop, self.batch_id, "batch_expired")
        return self.stop


def _transient(err: errors.GatewayError) -> bool:
    return err.status_code == 503 or (err.status_code == 429 and err.code != "budget_exceeded")


def _retry_after(err: errors.GatewayError) -> float:
    try:
        return max(0.05, min(2.0, float(err.headers.get("retry-after", "0.5"))))
    except ValueError:
        return 0.5


async def _call(ctx: _Context, line: jsonl.InputLine, rid: str) -> tuple[bool, str] | None:
    """Run one parsed line through the pipeline: (ok, output line), or None = retry later."""
    try:
        request = jsonl.validate_body(line, ctx.engine_settings.max_body_bytes)
    except errors.GatewayError as err:
        return False, response_line(rid, line.custom_id, err.status_code, rid, err.body())
    for attempt in range(ctx.settings.transient_retries + 1):
        stop = await ctx.stop_reason()
        if stop:
            return False, error_line(rid, line.custom_id, stop, STOP_MESSAGES.get(stop, stop))
        try:
            call = await completions.start(ctx.engine, line.kind, request, ctx.principal, rid)
            result = await completions.complete(ctx.engine, call, request)
            return True, response_line(rid, line.custom_id, 200, rid, result.body)
        except errors.GatewayError as err:
            if _transient(err):
                if attempt < ctx.settings.transient_retries:
                    await asyncio.sleep(_retry_after(err))
                    continue
                if not ctx.last_attempt:
                    return None
            if err.code == "budget_exceeded" and not ctx.single:
                ctx.stop = "budget_exceeded"
                await aio.blocking(store.set_stop, ctx.batch_id, "budget_exceeded")
            return False, response_line(rid, line.custom_id, err.status_code, rid, err.body())
    return None


async def _result(ctx: _Context, raw: jsonl.RawLine) -> tuple[bool, str] | None:
    endpoint = ctx.batch.get("endpoint") if ctx.batch.get("strict_endpoint", True) else None
    parsed = jsonl.parse(raw, endpoint=endpoint, duplicate=raw.index in ctx.chunk.dups)
    rid = ids.request_id(ctx.batch_id, parsed.custom_id, raw.index)
    if isinstance(parsed, jsonl.BadLine):
        if parsed.status:
            body = errors.error_body(parsed.message, "invalid_request_error", parsed.code, parsed.param)
            return False, response_line(rid, parsed.custom_id, parsed.status, rid, body)
        return False, error_line(rid, parsed.custom_id, parsed.code, parsed.message, parsed.line_no)
    stop = await ctx.stop_reason()
    if stop:
        return False, error_line(rid, parsed.custom_id, stop, STOP_MESSAGES.get(stop, stop))
    if ctx.principal_error is not None:
        err = ctx.principal_error
        return False, response_line(rid, parsed.custom_id, err.status_code, rid, err.body())
    try:
        return await _call(ctx, parsed, rid)
    except Exception:
        # Not an API error: it may have come after the provider answered (settling spend, say), so
        # running the line again could call the model twice. Record it as failed instead.
        log.exception("batch line failed unexpectedly", extra={"batch_id": ctx.batch_id, "index": raw.index})
        body = errors.error_body(f"Internal error (request id {rid}).", "internal_error", "internal_error")
        return False, response_line(rid, parsed.custom_id, 500, rid, body)


async def _line(ctx: _Context, raw: jsonl.RawLine, gate: asyncio.Semaphore) -> Outcome:
    async with gate:
        if ctx.deadline is not None and time.monotonic() > ctx.deadline:
            return "pending"
        token = uuid.uuid4().hex
        claim = await aio.blocking(store.claim_line, ctx.batch_id, raw.index, token, ctx.settings.lease_seconds)
        if claim != "claimed":
            return "done" if claim == "done" else "pending"
        # An exception escaping here (cancellation, a crash) leaves the claim to expire with its lease.
        outcome = await _result(ctx, raw)
        if outcome is None:  # refused before any answer (rate limit, 503): give the line back
            await aio.blocking(store.release_line, ctx.batch_id, raw.index, token)
            return "pending"
        ok, text = outcome
        out, out_s3 = text, None
        if len(text.encode()) > MAX_INLINE_RESULT:
            out, out_s3 = None, f"{blobs.OUTPUT_PREFIX}{ctx.batch_id}/lines/{raw.index:07d}.json"
            await aio.blocking(blobs.put, out_s3, text.encode(), content_type="application/json")
        if not await aio.blocking(store.finish_line, ctx.batch_id, raw.index, token, ok=ok, out=out, out_s3=out_s3):
            log.warning("lost the claim on a batch line (lease expired)", extra={"batch_id": ctx.batch_id,
                                                                               "index": raw.index})
        return "done"


async def _load(ctx: _Context) -> None:
    """The engine and the owner's principal, once per work item."""
    from gateway.runtime import get_runtime

    runtime = get_runtime()
    ctx.engine = runtime.engine()
    ctx.engine_settings = runtime.settings
    try:
        ctx.principal = await aio.blocking(owners.load, ctx.batch["owner"])
    except errors.GatewayError as err:
        ctx.principal_error = err


async def process_chunk(chunk: Chunk, *, last_attempt: bool = False, deadline: float | None = None) -> str:
    """Run a chunk to the end; raises ``ChunkIncomplete`` if lines remain for a later delivery."""
    settings = batch_settings.get()
    batch = await aio.blocking(store.get_batch, chunk.batch_id)
    if batch is None:
        log.warning("work item for an unknown batch; dropped", extra={"batch_id": chunk.batch_id})
        return "unknown_batch"
    if batch["status"] in TERMINAL:
        return "finished"
    if chunk.chunk in (batch.get("cd") or set()):
        await aio.blocking(finalize.maybe_finalize, batch)
        return "already_counted"
    data = await aio.blocking(blobs.get_range, batch["input_key"], chunk.start, chunk.end)
    raws = list(jsonl.iter_lines(data, first_index=chunk.first, first_line_no=chunk.line_no, base=chunk.start))
    if len(raws) != chunk.count:
        raise RuntimeError(f"chunk {chunk.chunk} of {chunk.batch_id}: expected {chunk.count} lines, found {len(raws)}")
    ctx = _Context(batch=batch, chunk=chunk, last_attempt=last_attempt, deadline=deadline, settings=settings)
    ctx.stop = await ctx.stop_reason()
    if not ctx.stop:
        await _load(ctx)
    gate = asyncio.Semaphore(settings.line_concurrency)
    outcomes = await asyncio.gather(*(_line(ctx, raw, gate) for raw in raws))
    if "pending" in outcomes:
        out_of_time = deadline is not None and time.monotonic() > deadline
        raise ChunkIncomplete(f"{outcomes.count('pending')} lines of chunk {chunk.chunk} still to run", out_of_time)
    completed, failed, missing = await aio.blocking(store.count_lines, chunk.batch_id, chunk.first,
                                                    chunk.first + chunk.count - 1)
    if missing:
        raise ChunkIncomplete(f"{missing} lines of chunk {chunk.chunk} not recorded yet")
    counted = await aio.blocking(store.count_chunk, chunk.batch_id, chunk.chunk, completed, failed)
    latest = counted or await aio.blocking(store.get_batch, chunk.batch_id)
    if latest:
        await aio.blocking(finalize.maybe_finalize, latest)
    return "counted" if counted else "already_counted"


async def run_single(text: str, *, owner: str, message_id: str, last_attempt: bool = False) -> str:
    """A stand-alone request: one SQS message whose body is one OpenAI Batch line.

    Same claim/record protocol as a batch line, keyed by (owner, custom_id) (the message id when the
    line has none), so a redelivered or re-sent message never runs twice. The result line (output or
    error format) is written to ``batch/output/sqs/<owner>/<custom_id>.jsonl`` and kept on the item.
    Returns ``ok``, ``error`` or ``duplicate``; raises ``ChunkIncomplete`` to be delivered again.
    """
    from urllib.parse import quote

    settings = batch_settings.get()
    raw = jsonl.RawLine(0, 1, 0, len(text), text.encode())
    probe = jsonl.parse(raw)
    custom_id = probe.custom_id or message_id
    pk, sk = f"SQSREQ#{owner}", f"REQ#{custom_id}"
    batch = {"id": f"sqs-{owner[:16]}", "owner": owner, "endpoint": None, "strict_endpoint": False,
             "status": "in_progress"}
    chunk = Chunk(batch_id=batch["id"], chunk=0, first=0, count=1, start=0, end=len(raw.text))
    ctx = _Context(batch=batch, chunk=chunk, last_attempt=last_attempt, deadline=None, settings=settings, single=True)
    token = uuid.uuid4().hex
    claim = await aio.blocking(store.claim, pk, sk, token, settings.lease_seconds)
    if claim == "done":
        return "duplicate"
    if claim == "busy":
        raise ChunkIncomplete(f"request {custom_id!r} is being run by another worker")
    await _load(ctx)
    outcome = await _result(ctx, raw)
    if outcome is None:
        await aio.blocking(store.release, pk, sk, token)
        raise ChunkIncomplete(f"request {custom_id!r} refused for now (rate limit or store unavailable)")
    ok, line = outcome
    key = f"{blobs.OUTPUT_PREFIX}sqs/{owner}/{quote(custom_id, safe='')}.jsonl"
    await aio.blocking(blobs.put, key, (line + "\n").encode())
    small = len(line.encode()) <= MAX_INLINE_RESULT
    await aio.blocking(store.finish, pk, sk, token, ok=ok, out=line if small else None, out_s3=None if small else key)
    return "ok" if ok else "error"
