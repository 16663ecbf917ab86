"""Gateway configuration in LiteLLM proxy ``config.yaml`` format: schema, parsing and live reload."""
from gateway.config.errors import ConfigError
from gateway.config.schema import GatewayConfig, ModelEntry

__all__ = ["ConfigError", "GatewayConfig", "ModelEntry"]
