"""Lambda entry point: an EventBridge schedule recalibrates one threshold router on its own traffic.

The work is ``gateway.learned_routing.calibration`` (the same as ``POST /router/calibrate``). A
refusal (too few logged decisions, a router that is not a threshold router) is logged and returned,
not raised: retrying a schedule event would not change it.
"""
import os

from gateway.errors import GatewayError
from gateway.learned_routing.calibration import CalibrationRequest, calibrate
from gateway.observability import logger
from gateway.runtime import get_runtime

get_runtime()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    request = CalibrationRequest(router=os.environ.get("ROUTER_CALIBRATION_ROUTER", "auto"),
                                 since=os.environ.get("ROUTER_CALIBRATION_SINCE", "7d"),
                                 dry_run=os.environ.get("ROUTER_CALIBRATION_DRY_RUN", "").lower() == "true")
    try:
        report = calibrate(get_runtime(), request)
    except GatewayError as err:
        logger.warning("router calibration not done", extra={"router": request.router, "reason": err.message})
        return {"calibrated": False, "router": request.router, "reason": err.message}
    return {"calibrated": report["written"], **report}
