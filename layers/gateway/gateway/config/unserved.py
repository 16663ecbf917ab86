"""Config blocks the gateway refuses instead of ignoring: serving without them would be unsafe.

A ``guardrails:`` block asks for checks on prompts and answers (``guardrail: bedrock``,
``mode: pre_call``/``post_call``, ...). In litellm those are *proxy* hooks: ``ProxyLogging.pre_call_hook``
/ ``during_call_hook`` / ``post_call_success_hook`` and the streaming iterator hook
(``litellm/proxy/utils.py``, 1.106.2) call ``CustomGuardrail.async_pre_call_hook`` and friends, and
``Router.acompletion`` calls none of them. The gateway does not run that hook chain, so a config with
guardrails would serve every request unchecked; it is refused at load (the last good config keeps
serving and ``/_health/ready`` says why), not named among the keys merely "not honoured".
"""
from __future__ import annotations

from gateway.config.errors import ConfigError
from gateway.config.schema import GatewayConfig

GUARDRAILS_REFUSED = (
    "guardrails: this gateway does not run litellm's guardrails (they are proxy pre_call/post_call hooks "
    "that litellm's Router never calls), so a config naming them would serve requests unchecked; remove the "
    "'guardrails' block, or put the checks in front of the gateway")


def refuse_unserved(config: GatewayConfig) -> None:
    """Raise :class:`ConfigError` for a block the gateway cannot serve safely."""
    if (config.model_extra or {}).get("guardrails") not in (None, [], {}):  # an empty block asks for nothing
        raise ConfigError(GUARDRAILS_REFUSED)
