"""Lambda entry point for API Gateway (HTTP API v2, REST v1) and Function URL events.

Everything expensive happens at import, once per execution environment: ``gateway.app`` loads
the config and builds the provider router, and ``warm_up`` pays litellm's lazy imports with an
offline mock call so the first real request does not. Under SnapStart that work is in the
snapshot, and ``snapstart.register`` refreshes what must not be shared between restored copies.
``after_response`` registers an internal extension so spend is written, and litellm's background
callbacks run, after the response leaves.
"""
import asyncio

from mangum import Mangum

from gateway import after_response, providers, snapstart
from gateway.app import app
from gateway.observability import logger, tracer
from gateway.settings import get_settings
from gateway.warmup import warm_up

warm_up()
snapstart.register()
after_response.start()  # spend is settled after the response leaves (a no-op off Lambda)
_asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: object) -> dict:
    try:
        return _asgi(event, context)
    finally:
        # litellm's success callbacks for this request: after the response, not in the next request
        after_response.submit_on_loop(asyncio.get_event_loop(), providers.flush_background_work,
                                      timeout=get_settings().callback_flush_timeout_s)
        after_response.invocation_done()
