"""Anthropic's Messages API (``POST /v1/messages``, ``/v1/messages/count_tokens``) on the gateway.

A thin protocol adapter over the one completion pipeline (``gateway.completions``): the body is
screened (``protocol.py``) and validated (``schemas.py``), translated to a chat call by litellm's
own Anthropic adapter (``translate.py``), run with the same keys, limits, routing and spend as chat,
and rendered back in Anthropic's wire format, errors included (``errors.py``).
"""
