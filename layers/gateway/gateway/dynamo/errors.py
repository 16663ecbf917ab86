"""DynamoDB client failures, mapped once for every store on the gateway's table.

``call`` makes one client call: connection errors, throttling past botocore's retries, server-side
failures, a missing table or refused credentials become ``StoreUnavailable`` (callers answer 503:
fail closed); anything else (a failed condition, a validation error) propagates as ``ClientError``.
``transact`` does the same for ``TransactWriteItems`` and turns a cancellation into
``TransactionCancelled`` with its reasons, or ``StoreUnavailable`` when a reason is worth a retry.
"""
from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class StoreUnavailable(Exception):
    """DynamoDB could not be reached, throttled past retries, or the table is missing."""


class TransactionCancelled(Exception):
    """A transaction was cancelled for a reason that is not worth a retry (e.g. a failed condition);
    ``reasons`` has one code (or None) per action, in order."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(str(reasons))
        self.reasons = reasons


UNAVAILABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "TransactionConflictException",
    "TransactionInProgressException",
})
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


def error_code(exc: ClientError) -> str:
    """The error's code (``""`` if it has none)."""
    return exc.response.get("Error", {}).get("Code", "")


def condition_failed(exc: ClientError) -> bool:
    """A single write's ``ConditionExpression`` did not hold."""
    return error_code(exc) == "ConditionalCheckFailedException"


def call(client: Any, op: str, **kwargs: Any) -> dict[str, Any]:
    """``client.<op>(**kwargs)``; infrastructure failures become StoreUnavailable, the rest propagate."""
    try:
        return getattr(client, op)(**kwargs)
    except ClientError as exc:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in UNAVAILABLE_CODES or status >= 500:  # throttling or a server-side failure
            raise StoreUnavailable(f"DynamoDB {op}: {code or status}") from exc
        raise
    except BotoCoreError as exc:
        raise StoreUnavailable(f"DynamoDB {op}: {type(exc).__name__}") from exc


def transact(client: Any, items: list[dict[str, Any]]) -> None:
    """One ``TransactWriteItems``: ``TransactionCancelled`` (with reasons) if it was cancelled,
    ``StoreUnavailable`` if a reason is contention or throttling (or the call failed as in ``call``)."""
    try:
        call(client, "transact_write_items", TransactItems=items)
    except ClientError as exc:
        if error_code(exc) != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if any(r in RETRYABLE_REASONS for r in reasons):
            raise StoreUnavailable(f"transaction cancelled: {reasons}") from exc
        raise TransactionCancelled(reasons) from exc
