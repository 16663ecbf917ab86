"""A caller's own credentials and endpoint: refused unless an admin opted in for the deployment.

LiteLLM's two opt-ins, with LiteLLM's names:
- ``general_settings.allow_client_side_credentials: true`` - every deployment (proxy-wide);
- per deployment, ``litellm_params.configurable_clientside_auth_params``: a list of parameter
  names, where ``api_base`` may instead be ``{"api_base": "<regex>"}`` or
  ``{"api_base": ["<regex>", ...]}``; the caller's URL must match one pattern in full
  (``re.fullmatch``; LiteLLM's proxy uses ``re.match``, which also admits any suffix).
Stricter than LiteLLM in two ways: a caller-chosen endpoint is only used with the caller's own
``api_key`` (so the deployment's key is never sent to a host the caller picked), and an opt-in
must hold on every deployment of the group, since litellm's Router may pick any of them.
Prices, callbacks, retries and deployments are never opt-in (``refused.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from gateway import errors

# What an admin may let callers bring. ``base_url`` is the OpenAI SDK's name for ``api_base``.
CLIENT_AUTH_PARAMS = frozenset({
    "api_key", "api_base", "base_url", "api_version", "organization", "aws_access_key_id",
    "aws_secret_access_key", "aws_session_token", "aws_region_name", "region_name", "vertex_project",
    "vertex_location", "vertex_credentials", "azure_ad_token",
})
_ENDPOINTS = frozenset({"api_base"})


_LITELLM_NAMES = {"base_url": "api_base"}  # the OpenAI SDK's name -> litellm's


@dataclass(frozen=True)
class ClientAuth:
    """Credentials and endpoints found in a body (by the path the caller sent them at), waiting
    for the deployment's opt-in."""

    params: Mapping[str, tuple[str, Any]] = field(default_factory=dict)  # path -> (name, value)

    def __bool__(self) -> bool:
        return bool(self.params)


def forbidden_param(name: str, why: str = "") -> errors.GatewayError:
    return errors.bad_request(
        f"The parameter '{name}' is not allowed in a request to this gateway{why}. Endpoints, credentials, "
        "prices, retries, callbacks and litellm settings come from the gateway's config.",
        param=name, code="forbidden_param")


def _allows(opt_ins: Iterable[Any] | None, name: str, value: Any) -> bool:
    for item in opt_ins or ():
        if isinstance(item, str) and item == name:
            return True
        if isinstance(item, Mapping) and name in _ENDPOINTS and name in item and isinstance(value, str):
            patterns = item[name] if isinstance(item[name], list) else [item[name]]
            if any(isinstance(p, str) and re.fullmatch(p, value) for p in patterns):
                return True
    return False


def _valid_endpoint(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def authorize_client_auth(auth: ClientAuth, opt_ins_per_deployment: list[list[Any] | None],
                          allow_all: bool) -> dict[str, Any]:
    """The caller's credentials to pass to litellm for this group, or a 400 naming the parameter.

    ``opt_ins_per_deployment``: each deployment's ``configurable_clientside_auth_params`` of every
    group the call may reach (primary and fallbacks).
    """
    if not auth:
        return {}
    params: dict[str, Any] = {}
    for path, (sent, value) in auth.params.items():
        name = _LITELLM_NAMES.get(sent, sent)
        if not (allow_all or (opt_ins_per_deployment and all(_allows(o, name, value) for o in opt_ins_per_deployment))):
            raise forbidden_param(path, " unless the deployment's configurable_clientside_auth_params allows it")
        if name in _ENDPOINTS and not _valid_endpoint(value):
            raise errors.bad_request(f"'{path}' must be an http(s) URL.", param=path, code="invalid_value")
        params[name] = value
    if "api_base" in params and not (isinstance(params.get("api_key"), str) and params["api_key"].strip()):
        raise errors.bad_request(
            "A request that sets 'api_base' must also send its own 'api_key': the gateway never sends a "
            "deployment's credentials to an endpoint the caller chose.", param="api_key", code="forbidden_param")
    return params
