"""Lambda entry point for API Gateway (HTTP API v2, REST v1) and Function URL events.

Everything expensive happens at import, once per execution environment: ``gateway.app`` loads
the config and builds the provider router, and ``warm_up`` pays litellm's lazy first-call imports
with an offline call to a refused loopback port so the first real request does not. Under
SnapStart that work is in the snapshot, and ``snapstart.register`` refreshes what must not be
shared between restored copies. ``after_response`` registers an internal extension so spend is
written, and litellm's background callbacks run, after the response leaves. ``init_gc`` keeps the
garbage collector out of all this.
"""
from gateway import init_gc

init_gc.pause()  # the imports below pull in litellm before gateway.app does

import asyncio  # noqa: E402

from mangum import Mangum  # noqa: E402

from gateway import after_response, providers, snapstart  # noqa: E402
from gateway.app import app  # noqa: E402
from gateway.observability import logger, tracer  # noqa: E402
from gateway.settings import get_settings  # noqa: E402
from gateway.warmup import warm_up  # noqa: E402

warm_up()
snapstart.register()
after_response.start()  # spend is settled after the response leaves (a no-op off Lambda)
_asgi = Mangum(app, lifespan="off")
init_gc.freeze()  # what the warm-up imported is permanent too


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
