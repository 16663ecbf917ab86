"""FastAPI routers, one per area of the API.

The OpenAI-compatible routers declare their paths without ``/v1``; ``gateway.app.create_app`` mounts
each of them twice, under ``/v1`` and (as LiteLLM serves them) without it.
"""
