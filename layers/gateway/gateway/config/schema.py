"""Pydantic models of LiteLLM's proxy ``config.yaml``.

Known fields are typed so that a wrong type fails validation with a path to the field; unknown
fields are kept (LiteLLM grows new ones often) and passed through to litellm untouched.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config import wildcards

RoutingStrategy = Literal[
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
]


class _Open(BaseModel):
    """A section that accepts LiteLLM fields this gateway does not know yet."""

    model_config = ConfigDict(extra="allow")


class LiteLLMParams(_Open):
    model: str = Field(min_length=1)
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    aws_region_name: str | None = None
    # LiteLLM's per-deployment opt-in for callers' own credentials/endpoint (gateway.request_policy):
    # names such as "api_key", or {"api_base": "<regex>" | ["<regex>", ...]} for allowed endpoints.
    configurable_clientside_auth_params: list[str | dict[str, str | list[str]]] | None = None


MAX_NAME_CHARS = 256
MAX_ACCESS_GROUPS = 32


class ModelInfo(_Open):
    id: str | None = None
    mode: str | None = None
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_input_tokens: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    # LiteLLM's model access groups: keys and teams granted a group's name may use this model group
    # (``gateway.keys.access``; litellm/proxy/auth/auth_checks.py check_model_access_helper).
    access_groups: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]] | None = Field(
        default=None, max_length=MAX_ACCESS_GROUPS)
    # Gateway extension: skip (instead of failing the whole config) a deployment whose
    # ``os.environ/`` references are unset, so one file serves with or without provider keys.
    optional: bool = False


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)


FallbackList = list[dict[str, list[str]]]
FALLBACK_KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
DEFAULT_NUM_RETRIES = 2  # litellm Router's default (openai.DEFAULT_MAX_RETRIES) when neither section sets it


class GroupAlias(BaseModel):
    """LiteLLM's dict form of a ``model_group_alias`` entry (litellm/types/router.py
    RouterModelGroupAliasItem): a hidden alias works but is not listed by ``/v1/models``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    hidden: bool = False


class RouterSettings(_Open):
    routing_strategy: RoutingStrategy = "simple-shuffle"
    # None: litellm_settings.num_retries, else DEFAULT_NUM_RETRIES (GatewayConfig.num_retries)
    num_retries: int | None = Field(default=None, ge=0, le=10)
    timeout: float | None = Field(default=None, gt=0)
    fallbacks: FallbackList = Field(default_factory=list)
    context_window_fallbacks: FallbackList = Field(default_factory=list)
    content_policy_fallbacks: FallbackList = Field(default_factory=list)
    allowed_fails: int | None = Field(default=None, ge=0)
    cooldown_time: float | None = Field(default=None, ge=0)
    retry_after: float | None = Field(default=None, ge=0)
    model_group_alias: dict[str, str | GroupAlias] = Field(default_factory=dict)
    routing_strategy_args: dict[str, Any] = Field(default_factory=dict)
    # Gateway extension: virtual models served by the stateless router (router/README.md), e.g.
    # {"auto": {"strategy": "threshold", "weak_model": "mock", "strong_model": "mock-strong",
    #           "strong_fraction": 0.3, "fallback_model": "mock"}}. Not passed to litellm.
    llm_routers: dict[str, dict[str, Any]] = Field(default_factory=dict)


#: LiteLLM's ``cache_params.type`` values (``litellm.types.caching.LiteLLMCacheType``, 1.106.2): the
#: exact-match ones are served by the gateway's shared DynamoDB cache (``gateway.response_cache``);
#: the semantic ones need an embedding index the gateway does not run, so they are refused.
EXACT_CACHE_TYPES = ("dynamodb", "local", "redis", "s3", "disk", "gcs", "azure-blob")
SEMANTIC_CACHE_TYPES = ("redis-semantic", "qdrant-semantic", "valkey-semantic")
CACHE_MAX_TTL_SECONDS = 7 * 24 * 3600  # a bound on admin input; DynamoDB TTL has none
#: ``litellm.types.caching.CachingSupportedCallTypes`` (1.106.2)
CacheCallType = Literal["completion", "acompletion", "embedding", "aembedding", "atranscription", "transcription",
                        "atext_completion", "text_completion", "arerank", "rerank", "responses", "aresponses",
                        "anthropic_messages", "aanthropic_messages"]


class CacheParams(_Open):
    """LiteLLM's ``litellm_settings.cache_params`` (``litellm.caching.caching.Cache.__init__``): the
    names the gateway reads are typed; the backend's connection settings (``host``,
    ``s3_bucket_name``, ...) are kept and named not honoured (``config.ignored``)."""

    type: str = "dynamodb"
    ttl: int = Field(default=3600, ge=1, le=CACHE_MAX_TTL_SECONDS)
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    mode: Literal["default_on", "default_off"] = "default_on"
    supported_call_types: list[CacheCallType] | None = Field(default=None, max_length=20)
    # Gateway extension: the largest answer stored, zlib-compressed (DynamoDB caps items at 400 KB)
    max_item_bytes: int = Field(default=350_000, ge=1024, le=380_000)

    @field_validator("type")
    @classmethod
    def _exact_match_only(cls, value: str) -> str:
        if value in SEMANTIC_CACHE_TYPES:
            raise ValueError(f"semantic caching ('{value}') is not supported by this gateway; use an "
                             f"exact-match type ({', '.join(EXACT_CACHE_TYPES)}) or remove cache_params.type")
        if value not in EXACT_CACHE_TYPES:
            raise ValueError(f"unknown cache type '{value}'; expected one of {', '.join(EXACT_CACHE_TYPES)}")
        return value


class LiteLLMSettings(_Open):
    drop_params: bool | None = None
    modify_params: bool | None = None
    request_timeout: float | None = Field(default=None, gt=0)
    num_retries: int | None = Field(default=None, ge=0, le=10)
    # LiteLLM applies these as litellm.fallbacks etc., which its Router reads when router_settings
    # sets none (litellm/router.py Router.__init__); the gateway reads them the same way
    # (GatewayConfig.fallback_chains) instead of setting litellm's module state.
    fallbacks: FallbackList | None = None
    context_window_fallbacks: FallbackList | None = None
    content_policy_fallbacks: FallbackList | None = None
    set_verbose: bool | None = None
    # LiteLLM's status for a budget refusal (``litellm.budget_exceeded_status_code``, 422 in 1.106.2;
    # 429 restores the older answer, which SDKs retry)
    budget_exceeded_status_code: int | None = Field(default=None, ge=400, le=499)
    # LiteLLM's response cache switch and its settings, served by ``gateway.response_cache``
    cache: bool | None = None
    cache_params: CacheParams | None = None


class GeneralSettings(_Open):
    # LiteLLM's proxy-wide opt-in: callers may bring their own credentials/endpoint on every
    # deployment (still never with a deployment's key; gateway.request_policy.clientside).
    allow_client_side_credentials: bool = False
    # LiteLLM's admin key, preferred over LITELLM_MASTER_KEY (gateway.settings). Its strength is
    # checked where a config is applied (runtime.build_engine); repr=False keeps it out of logs.
    master_key: str | None = Field(default=None, repr=False)
    # Gateway extension: default completion budget used to reserve worst-case cost when a
    # request does not say max_tokens.
    default_max_tokens: int = Field(default=4096, gt=0)

    @field_validator("master_key")
    @classmethod
    def _strip_master_key(cls, value: str | None) -> str | None:
        """Sent tokens are stripped (auth.extract_token), so a padded key could never match; blank = unset."""
        return (value.strip() or None) if value is not None else None


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_list: list[ModelEntry] = Field(min_length=1)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)
    litellm_settings: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)

    @field_validator("router_settings", "litellm_settings", "general_settings", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _router_names_are_free(self) -> "GatewayConfig":
        clash = sorted(set(self.router_settings.llm_routers) & set(self.model_names()))
        if clash:
            raise ValueError(f"router_settings.llm_routers names clash with model_list names: {', '.join(clash)}")
        return self

    def model_names(self) -> list[str]:
        """Model groups (``model_name``) in config order, without duplicates."""
        return list(dict.fromkeys(entry.model_name for entry in self.model_list))

    def deployments(self, model_name: str) -> list[ModelEntry]:
        """The group's deployments; for a name only a wildcard ``model_name`` matches, that pattern's
        deployments with the name filled into their model (as litellm's Router routes it)."""
        exact = [entry for entry in self.model_list if entry.model_name == model_name]
        return exact or wildcards.deployments(self.model_list, model_name)

    def alias_target(self, model_name: str) -> str | None:
        """The group a ``model_group_alias`` names (either of LiteLLM's two forms), or None."""
        target = self.router_settings.model_group_alias.get(model_name)
        return target.model if isinstance(target, GroupAlias) else target

    def resolve_alias(self, model_name: str) -> str:
        return self.alias_target(model_name) or model_name

    def num_retries(self) -> int:
        """router_settings > litellm_settings > litellm's default, as litellm's Router decides."""
        for value in (self.router_settings.num_retries, self.litellm_settings.num_retries):
            if value is not None:
                return value
        return DEFAULT_NUM_RETRIES

    def fallback_chains(self, kind: str) -> FallbackList:
        """``router_settings.<kind>``, else ``litellm_settings.<kind>`` (litellm's Router:
        ``fallbacks or litellm.fallbacks``)."""
        return getattr(self.router_settings, kind) or getattr(self.litellm_settings, kind) or []
