"""Spend tags: the labels a request's spend log carries (LiteLLM's ``request_tags``), for ``/spend/tags``
and ``/global/spend/report?group_by=tag``.

Where they come from, as LiteLLM's proxy merges them (``litellm_pre_call_utils.py``: the body's
``metadata.tags`` and top-level ``tags`` via ``get_tags_from_request_body`` and
``add_request_tag_to_metadata``, then the key's ``metadata.tags`` in ``add_key_level_controls``
and the team's ``metadata.tags``; ``merge_tags`` keeps the first of duplicates):
request tags first, then the key's, then the team's.

A caller's tags are untrusted input that ends up in a stored item and in report keys, so they are
bounded (count, length, characters) and a request that breaks a bound is a 400. Tags an admin set on
a key or team are kept only where they fit the same rule (they were bounded as metadata already).
The ``x-litellm-tags`` header LiteLLM also reads is not read here.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

#: a caller's tags per list (``metadata.tags``, top-level ``tags``)
MAX_REQUEST_TAGS = 16
#: tags recorded per spend log, the key's and team's included
MAX_RECORDED_TAGS = 32
MAX_TAG_CHARS = 64
#: letters, digits and ``_ . : / = @ + -``; no spaces, commas, quotes or control characters
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/=@+\-]*")
RULE = (f"at most {MAX_REQUEST_TAGS} strings of 1 to {MAX_TAG_CHARS} characters: letters, digits and "
        "_ . : / = @ + - (starting with a letter or digit)")


def is_tag(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TAG_CHARS and TAG_PATTERN.fullmatch(value) is not None


def check(value: Any) -> list[str] | None:
    """A caller's tag list as it is, or ``ValueError`` naming the rule (pydantic makes it a 400)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_REQUEST_TAGS or not all(is_tag(v) for v in value):
        raise ValueError(f"tags must be a list of {RULE}")
    return value


def _merge(*sources: Any) -> tuple[str, ...]:
    """LiteLLM's ``merge_tags`` over several lists: order kept, duplicates and invalid entries left out."""
    merged: dict[str, None] = {}
    for source in sources:
        if isinstance(source, list):
            for tag in source:
                if is_tag(tag):
                    merged.setdefault(tag)
    return tuple(merged)[:MAX_RECORDED_TAGS]


def from_request(metadata: Any, tags: Any) -> tuple[str, ...]:
    """The caller's tags: ``metadata.tags``, then top-level ``tags`` (both already checked by the schema)."""
    inner = metadata.get("tags") if isinstance(metadata, dict) else None
    return _merge(inner, tags)


def recorded(request_tags: Iterable[str], key: Any, team: Any) -> tuple[str, ...]:
    """What the spend log records: the request's tags, then the key's and its team's ``metadata.tags``."""
    def admin_tags(record: Any) -> Any:
        metadata = getattr(record, "metadata", None)
        return metadata.get("tags") if isinstance(metadata, dict) else None

    return _merge(list(request_tags), admin_tags(key), admin_tags(team))
