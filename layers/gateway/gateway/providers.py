"""Provider calls through litellm's Router, and their errors in OpenAI's shape.

The Router brings retries, fallbacks, timeouts and cooldowns from ``router_settings``. Anything
litellm raises is turned into a :class:`GatewayError` here, so routes never see provider
exceptions and clients never see provider internals.
"""
from __future__ import annotations

import logging
from typing import Any

import litellm
from litellm import Router

from gateway import callbacks, errors
from gateway.config.ignored import HONOURED_LITELLM_SETTINGS, router_arguments
from gateway.config.parse import ParsedConfig
from gateway.config.schema import FALLBACK_KINDS, GatewayConfig

log = logging.getLogger(__name__)

# litellm prints a "Give Feedback / Get Help" banner to stdout on every provider error; the gateway
# maps and logs errors itself (as JSON, without internals), so the banner is only noise in the logs.
litellm.suppress_debug_info = True

def _router_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """What litellm's Router takes; the rest is named by ``config.ignored`` (one warning at load)."""
    accepted = router_arguments()
    return {k: v for k, v in settings.items() if k in accepted and v not in (None, [], {})}


def build_provider_router(parsed: ParsedConfig) -> Router:
    """A litellm Router for this config (called at cold start and on every successful reload)."""
    config = parsed.config
    configured = callbacks.resolve(config.litellm_settings.model_dump(exclude_none=True))  # ConfigError first
    for key, value in config.litellm_settings.model_dump(exclude_none=True).items():
        if key in HONOURED_LITELLM_SETTINGS:  # the others are named by config.ignored
            setattr(litellm, key, value)
    model_list = []
    for entry in config.model_list:
        params = entry.litellm_params.model_dump(exclude_none=True)
        info = entry.model_info.model_dump(exclude_none=True, exclude={"optional"})
        model_list.append({"model_name": entry.model_name, "litellm_params": params, "model_info": info})
    settings = config.router_settings.model_dump(exclude_none=True, exclude={"llm_routers"})
    # litellm_settings' retries and chains apply where router_settings sets none (as LiteLLM's
    # proxy: litellm.<name> read by Router.__init__), passed explicitly so a reload drops them too
    settings["num_retries"] = config.num_retries()
    settings.update({kind: config.fallback_chains(kind) for kind in FALLBACK_KINDS})
    router = Router(model_list=model_list, **_router_kwargs(settings))
    callbacks.install(configured)  # replaces the previous config's (a reload does not accumulate them)
    return router


async def flush_background_work() -> None:
    """Let litellm finish what it queued after the last call (success callbacks: the Router's
    deployment usage, cost and logging payloads, about 1.5 ms per request, and the config's own
    callbacks, ``callbacks.wait_for_logging``). On Lambda this runs after the response
    (``after_response.submit_on_loop``) instead of inside the next request."""
    await callbacks.wait_for_logging()


def provider_of(model: str, custom_llm_provider: str | None) -> str | None:
    """litellm's provider name for a deployment's model (``custom_llm_provider`` if it cannot tell)."""
    try:
        return litellm.get_llm_provider(model=model, custom_llm_provider=custom_llm_provider)[1]
    except Exception:
        return custom_llm_provider


def deployment_target(config: GatewayConfig, group: str) -> tuple[str, str | None]:
    """(litellm model, provider) of the group's first deployment: what a protocol adapter
    translates a request for (Anthropic Messages, Responses)."""
    params = config.deployments(group)[0].litellm_params
    return params.model, provider_of(params.model, getattr(params, "custom_llm_provider", None))


# --- errors -------------------------------------------------------------------------------------
def _retry_after(exc: Exception) -> dict[str, str]:
    response = getattr(exc, "response", None)
    value = None
    if response is not None:
        try:
            value = response.headers.get("retry-after")
        except Exception:
            value = None
    return {"retry-after": str(value)} if value else {}


def to_gateway_error(exc: Exception, model: str) -> errors.GatewayError:
    """Map a litellm / provider exception to the status and OpenAI error a client should see."""
    if isinstance(exc, errors.GatewayError):
        return exc
    message = f"model '{model}': "
    if isinstance(exc, litellm.ContextWindowExceededError):
        return errors.GatewayError(400, message + "the request exceeds the model's context window.",
                                   type="invalid_request_error", code="context_length_exceeded", param="messages")
    if isinstance(exc, litellm.ContentPolicyViolationError):
        return errors.GatewayError(400, message + "the provider refused the content.",
                                   type="invalid_request_error", code="content_policy_violation")
    if isinstance(exc, (litellm.UnsupportedParamsError, litellm.BadRequestError)):
        return errors.GatewayError(400, message + "the provider rejected the request: " + _short(exc),
                                   type="invalid_request_error", code="provider_bad_request")
    if isinstance(exc, litellm.Timeout):
        return errors.GatewayError(504, message + "the provider did not answer in time.",
                                   type="timeout_error", code="provider_timeout")
    if isinstance(exc, (litellm.RateLimitError, litellm.RouterRateLimitError)):
        return errors.GatewayError(429, message + "the provider is rate limiting or all deployments are cooling down; retry later.",
                                   type="rate_limit_error", code="rate_limit_exceeded", headers=_retry_after(exc) or {"retry-after": "1"})
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return errors.GatewayError(502, message + "the gateway's credentials for this provider were refused.",
                                   type="upstream_error", code="provider_auth_error")
    if isinstance(exc, (litellm.APIConnectionError, litellm.APIError, litellm.InternalServerError,
                        litellm.ServiceUnavailableError, litellm.NotFoundError, litellm.BadGatewayError,
                        litellm.APIResponseValidationError, litellm.UnprocessableEntityError)):
        return errors.GatewayError(502, message + "the provider returned an error.",
                                   type="upstream_error", code="provider_error")
    if isinstance(exc, ValueError) and "No deployments available" in str(exc):
        return errors.GatewayError(429, message + "all deployments are cooling down; retry later.",
                                   type="rate_limit_error", code="rate_limit_exceeded", headers={"retry-after": "1"})
    raise exc  # unknown: the app's last-resort handler logs it and answers 500 with a request id


def _short(exc: Exception, limit: int = 300) -> str:
    """The provider's own message, cut short (it helps the client fix its request)."""
    text = str(getattr(exc, "message", "") or exc)
    text = text.replace("litellm.", "").strip()
    return text[:limit]
