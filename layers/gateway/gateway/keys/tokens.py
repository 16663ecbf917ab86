"""Virtual key tokens: generation, hashing and the abbreviated display name.

Only ``sha256(token)`` is stored; the token itself is shown once, in the ``/key/generate`` (or
``/key/regenerate``) response. LiteLLM hashes the same way, so a hash copied from LiteLLM's
``/key/info`` (``token``) means the same key here.
"""
from __future__ import annotations

import hashlib
import re
import secrets

_HASH = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    """A fresh ``sk-`` token with 192 bits of randomness."""
    return "sk-" + secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_hash(value: str) -> bool:
    return bool(_HASH.match(value))


def to_hash(token_or_hash: str) -> str:
    """Admin endpoints accept either the token (``sk-...``) or its hash, as LiteLLM's do."""
    value = token_or_hash.strip()
    return value if looks_like_hash(value) else hash_token(value)


def key_name(token: str) -> str:
    """LiteLLM's ``key_name``: enough of the token to recognise it, not enough to use it."""
    return f"sk-...{token[-4:]}"
