"""Lambda entry point: S3 ObjectCreated under ``batch/input/`` starts an OpenAI-format batch.

The work is in ``gateway.batch.handlers`` (shared with the local run and the tests). The config is
loaded at import, once per execution environment, as in the API function.
"""
from gateway.batch.handlers import handle_s3_event
from gateway.observability import logger
from gateway.runtime import get_runtime
from gateway.warmup import warm_up

get_runtime()
warm_up()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return handle_s3_event(event, context)
