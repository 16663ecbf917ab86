"""Powertools Logger, Tracer and Metrics, configured once for the whole package.

Tracing switches itself off outside Lambda (no X-Ray daemon), so the local run and tests need no
flags. Metrics are emitted as one EMF line per request with the model as dimension; set
``POWERTOOLS_METRICS_DISABLED=true`` to silence them locally. Prompt text and keys are never
passed to any of these.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "llm-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LLMGateway")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)

# Modules log with logging.getLogger(__name__); give the package root Powertools' JSON handler so
# their lines carry the same correlation id. litellm's own logger is quiet unless LITELLM_LOG says.
logging.getLogger("gateway")
copy_config_to_registered_loggers(source_logger=logger, include={"gateway"})
logging.getLogger("LiteLLM").setLevel(os.environ.get("LITELLM_LOG", "ERROR").upper())


@contextlib.contextmanager
def subsegment(name: str, **annotations: Any) -> Iterator[None]:
    """An X-Ray subsegment when tracing is on; nothing otherwise."""
    if tracer.disabled:
        yield
        return
    with tracer.provider.in_subsegment(name) as segment:
        for key, value in annotations.items():
            if value is not None:
                segment.put_annotation(key, value)
        yield


def annotate(**annotations: Any) -> None:
    """Annotations on the current segment (model, status, router), searchable in X-Ray."""
    if tracer.disabled:
        return
    for key, value in annotations.items():
        if value is not None:
            tracer.put_annotation(key, value)


def record_request(
    *, route: str, model: str | None, status: int, latency_ms: float,
    prompt_tokens: int = 0, completion_tokens: int = 0,
) -> None:
    """One EMF document per request: count, latency, tokens and errors, by model."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in {"1", "true"}:
        return
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_dimension(name="model", value=model or "none")
    metrics.add_dimension(name="route", value=route)
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    if status >= 400:
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    if prompt_tokens or completion_tokens:
        metrics.add_metric(name="PromptTokens", unit=MetricUnit.Count, value=prompt_tokens)
        metrics.add_metric(name="CompletionTokens", unit=MetricUnit.Count, value=completion_tokens)
    metrics.flush_metrics()
