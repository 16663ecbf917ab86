"""Lambda entry point: batch work items from SQS, with partial batch responses.

Returns ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` (the event source mapping
needs ``FunctionResponseTypes: [ReportBatchItemFailures]``), so one bad record never makes the
others run again. The work is in ``gateway.batch.handlers``.
"""
from gateway.batch.handlers import handle_sqs_event
from gateway.observability import logger
from gateway.runtime import get_runtime
from gateway.warmup import warm_up

get_runtime()
warm_up()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return handle_sqs_event(event, context)
