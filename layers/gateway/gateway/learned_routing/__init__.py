"""The gateway's use of the learned router (``router/``, a library with no AWS or web imports).

- ``decide.py``: virtual models such as ``auto`` (``router_settings.llm_routers``): which model
  group a request goes to, from the request, the config and the loaded artifacts;
- ``artifact_sync.py``: the artifacts from S3 into /tmp, verified and hot-reloaded;
- ``routes.py``: the router admin routes (``/router/*``).
Not to be confused with litellm's Router (``gateway.providers``: retries and fallbacks across a
group's deployments) or FastAPI's routers (``gateway.routes``).
"""
