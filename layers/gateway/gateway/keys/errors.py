"""The errors this package raises, all as OpenAI-shaped ``GatewayError`` (status, type, code, headers).

Storage failures are ``StoreUnavailable`` internally (raised by ``gateway.dynamo.errors``, re-exported
here) and surface as 503: the gateway fails closed, it never serves a request whose key or limits it
could not check.
"""
from __future__ import annotations

import sys
from decimal import Decimal
from typing import Mapping

from gateway.dynamo.errors import StoreUnavailable  # noqa: F401 (re-exported)
from gateway.errors import GatewayError


class AlreadySettled(Exception):
    """A settle for this request id was already recorded (a replay or a retried success)."""


def key_invalid() -> GatewayError:
    return GatewayError(401, "Invalid API key.", type="authentication_error", code="invalid_api_key")


def key_expired() -> GatewayError:
    return GatewayError(401, "This API key has expired.", type="authentication_error", code="key_expired")


def key_blocked() -> GatewayError:
    return GatewayError(403, "This API key is blocked.", type="permission_error", code="key_blocked")


def team_blocked() -> GatewayError:
    return GatewayError(403, "This API key's team is blocked.", type="permission_error", code="team_blocked")


def model_not_allowed(model: str, by: str = "key") -> GatewayError:
    """LiteLLM's refusal (``litellm/proxy/auth/auth_checks.py``): 403 with the type
    ``key_model_access_denied`` or ``team_model_access_denied`` (here also the ``code``) and its
    client message (``model_access_denied.py``), which does not say whether the model exists."""
    kind = f"{by}_model_access_denied"
    return GatewayError(
        403,
        f"The requested model '{model}' is not available for this API key, or the model name is invalid. "
        "Check the models available to you and try again.",
        type=kind,
        code=kind,
        param="model",
    )


def unavailable(detail: str = "") -> GatewayError:
    message = "Key and budget store unavailable; request refused (fail closed). Retry shortly."
    return GatewayError(503, message + (f" ({detail})" if detail else ""), type="service_unavailable",
                        code="key_store_unavailable", headers={"retry-after": "1"})


#: LiteLLM 1.106.2 refuses an exhausted budget with 422 (``litellm.budget_exceeded_status_code``,
#: ``litellm/__init__.py``; ``litellm/proxy/auth/auth_exception_handler.py`` answers with it): the
#: OpenAI and Anthropic SDKs do not retry a 422, as they do a 429, so an agent does not spin on a
#: budget that will not come back. ``litellm_settings.budget_exceeded_status_code`` changes it.
BUDGET_EXCEEDED_STATUS = 422


def budget_status() -> int:
    """litellm's setting when litellm is loaded (a config may have set it), else LiteLLM's default."""
    litellm = sys.modules.get("litellm")
    status = getattr(litellm, "budget_exceeded_status_code", BUDGET_EXCEEDED_STATUS)
    return status if isinstance(status, int) and 400 <= status < 500 else BUDGET_EXCEEDED_STATUS


class BudgetExceeded(GatewayError):
    """A budget refused the reservation; ``room`` is what was left of it (max_budget - spend - reserved),
    so an admission whose output may be capped can ask for what fits (``enforce.admit``)."""

    def __init__(self, scope: str, spend: str, max_budget: str, headers: Mapping[str, str], room: Decimal) -> None:
        super().__init__(
            budget_status(),
            f"Budget exceeded for {scope}: spend {spend} + reserved for this request would pass max_budget {max_budget}.",
            type="budget_exceeded",
            code="budget_exceeded",
            headers=headers,
        )
        self.room = room


def budget_exceeded(scope: str, spend: str, max_budget: str, headers: Mapping[str, str],
                    room: Decimal = Decimal(0)) -> BudgetExceeded:
    return BudgetExceeded(scope, spend, max_budget, headers, room)


def rate_limited(scope: str, what: str, limit: int, headers: Mapping[str, str]) -> GatewayError:
    kind = {"rpm": "requests", "tpm": "tokens", "parallel": "requests"}[what]
    label = {"rpm": "requests per minute", "tpm": "tokens per minute", "parallel": "parallel requests"}[what]
    code = "max_parallel_requests_exceeded" if what == "parallel" else "rate_limit_exceeded"
    return GatewayError(429, f"Rate limit reached for {scope}: {limit} {label}.", type=kind, code=code, headers=headers)


def account_blocked(kind: str, ident: str) -> GatewayError:
    """LiteLLM's refusal of a blocked user or end user (``auth_checks.common_checks``), as a 403."""
    who = "User" if kind == "user" else "End User"
    code = "user_blocked" if kind == "user" else "end_user_blocked"
    return GatewayError(403, f"{who}={ident} is blocked.", type="permission_error", code=code)


def account_unreadable(kind: str, ident: str) -> GatewayError:
    return GatewayError(503, f"The stored {kind} {ident} cannot be read; request refused (fail closed).",
                        type="service_unavailable", code="key_store_unavailable")
