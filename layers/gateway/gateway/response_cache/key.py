"""The entry key: a sha256 of everything that determines the answer, and of nothing a caller can
use to reach another entry.

In it: the config's namespace and the caller's sub-namespace, the resolved model group (never the
alias the caller spelt), the call kind, the input (messages, prompt or input) and the allow-listed
provider parameters (``_Request.provider_params``). Not in it: the caller's key or team (callers
with access to a group share its entries, as in LiteLLM's exact-match caches, whose key
``Cache.get_cache_key`` is built from the call's arguments alone), metadata, fallbacks.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

KEY_VERSION = 1  # changes with the material below, so an old entry is never read as a new one


def cache_key(*, namespace: str, caller_namespace: str, group: str, kind: str, inputs: Any,
              params: dict[str, Any]) -> str:
    material = {"v": KEY_VERSION, "namespace": namespace, "caller_namespace": caller_namespace, "group": group,
                "kind": kind, "input": inputs, "params": params}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
