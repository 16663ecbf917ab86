"""LiteLLM's model-info routes: ``/model/info``, ``/v1/model/info`` and ``/model_group/info``.

As LiteLLM's proxy (``proxy_server.py``: ``model_info_v1``, ``model_group_info``, 1.106.2) does,
any key may call them and sees only the models it may use (``accounting.visible_models``); the
master key and admin keys see every model. The deployments come from the serving config's litellm
Router (its ``model_list``, with the ids litellm gave them; the same ids as ``x-litellm-model-id``).

Never shown, to anyone: credentials. LiteLLM's ``remove_sensitive_info_from_deployment``
(``proxy/common_utils/openai_endpoint_utils.py``) drops ``api_key``, ``client_secret``, the Vertex
credentials and the AWS keys and masks the rest with litellm's ``SensitiveDataMasker``; here the
same names are dropped and every other value litellm's masker calls sensitive is masked whole
(LiteLLM leaves four characters at each end). To non-admins, the endpoint a deployment talks to
(``api_base`` and its kin) and the client-side auth opt-ins are not shown either.
"""
from __future__ import annotations

import copy
import functools
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query

from gateway import accounting, errors
from gateway.auth import authenticate
from gateway.principal import Principal
from gateway.runtime import Engine, get_runtime

router = APIRouter(tags=["model management"])

#: what LiteLLM's ``remove_sensitive_info_from_deployment`` pops before masking the rest
DROPPED_PARAMS = frozenset({"api_key", "client_secret", "vertex_credentials", "vertex_ai_credentials",
                            "aws_access_key_id", "aws_secret_access_key"})
#: where a deployment sends its calls, and who may redirect them: admins only
_ENDPOINT_PARAMS = frozenset({"api_base", "base_url", "api_version", "aws_bedrock_runtime_endpoint",
                              "configurable_clientside_auth_params"})
_ENDPOINT_SUFFIXES = ("_api_base", "_base_url", "_endpoint", "_endpoint_url", "_url")
#: a deployment's group name or id: the bounds of a model name elsewhere
MAX_NAME_CHARS = 256
NameParam = Annotated[Optional[str], Query(min_length=1, max_length=MAX_NAME_CHARS)]


@functools.cache
def _masker() -> Any:
    from litellm.litellm_core_utils.sensitive_data_masker import SensitiveDataMasker

    return SensitiveDataMasker(visible_prefix=0, visible_suffix=0)


def _is_endpoint(name: str) -> bool:
    return name in _ENDPOINT_PARAMS or name.lower().endswith(_ENDPOINT_SUFFIXES)


def public_params(params: dict[str, Any], *, is_admin: bool) -> dict[str, Any]:
    """A deployment's ``litellm_params`` as a caller may see them: no credentials, and for
    non-admins no endpoint."""
    kept = {name: value for name, value in params.items()
            if name not in DROPPED_PARAMS and (is_admin or not _is_endpoint(name))}
    return _masker().mask_dict(kept)


def _litellm_model_info(model: str) -> dict[str, Any]:
    """litellm's cost-map entry for the deployment's model (LiteLLM's ``_enrich_model_info_with_litellm_data``)."""
    import litellm

    try:
        return dict(litellm.get_model_info(model=model))
    except Exception:
        return {}


def deployment_view(deployment: dict[str, Any], *, is_admin: bool) -> dict[str, Any]:
    """One ``/model/info`` entry: the config's ``model_info`` over litellm's, as LiteLLM merges them."""
    params = deployment.get("litellm_params") or {}
    configured = dict(deployment.get("model_info") or {})
    known = _litellm_model_info(str(params.get("model", "")))
    info = {**configured, **{k: v for k, v in known.items() if k not in configured}}
    return {
        "model_name": deployment.get("model_name"),
        "litellm_params": public_params(copy.deepcopy(params), is_admin=is_admin),
        "model_info": info,
    }


def _deployments(engine: Engine) -> list[dict[str, Any]]:
    """The Router's deployments and, as LiteLLM lists them, its aliases (``model_group_alias``)."""
    router_ = engine.provider_router
    return list(router_.model_list) + list(router_.get_model_list_from_model_alias())


def _visible(principal: Principal, engine: Engine, deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(str(d.get("model_name")) for d in deployments))
    allowed = set(accounting.visible_models(principal, names, engine.catalog))
    return [d for d in deployments if d.get("model_name") in allowed]


@router.get("/model/info", summary="The deployments this key may use, without credentials")
@router.get("/v1/model/info", include_in_schema=False)
async def model_info(litellm_model_id: NameParam = None,
                     principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    engine = get_runtime().engine()
    deployments = _visible(principal, engine, _deployments(engine))
    if litellm_model_id is not None:
        deployments = [d for d in deployments if (d.get("model_info") or {}).get("id") == litellm_model_id][:1]
        if not deployments:  # LiteLLM answers 400 here; unknown and not granted look the same
            raise errors.bad_request(f"Model id = {litellm_model_id} not found on litellm proxy",
                                     param="litellm_model_id", code="model_not_found")
    return {"data": [deployment_view(d, is_admin=principal.is_admin) for d in deployments]}


@router.get("/model_group/info", summary="The model groups this key may use: providers, limits, prices, params")
async def model_group_info(model_group: NameParam = None,
                           principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    """litellm Router's ``get_model_group_info`` per group (what LiteLLM's route returns)."""
    engine = get_runtime().engine()
    groups = accounting.visible_models(principal, engine.config.model_names(), engine.catalog)
    if model_group is not None:
        groups = [g for g in groups if g == model_group]
    data = []
    for group in groups:
        info = engine.provider_router.get_model_group_info(model_group=group)
        view = info.model_dump() if info is not None else {"model_group": group, "providers": []}
        if not principal.is_admin:
            view.pop("configurable_clientside_auth_params", None)
        data.append(view)
    return {"data": data}
