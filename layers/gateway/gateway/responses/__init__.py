"""The OpenAI Responses API (``/v1/responses``), served through the gateway's one pipeline.

``protocol.py`` (what of a body may reach litellm), ``schemas.py`` (the validated request),
``translate.py`` (Responses <-> chat, with litellm's own bridge), ``events.py`` (the event stream),
``store.py`` (stored responses in DynamoDB, large ones in S3), ``settings.py``, ``routes.py``.
"""
