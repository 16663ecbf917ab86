"""FastAPI routers, one per area of the API."""


def openai_paths(path: str) -> list[str]:
    """An OpenAI-compatible path with and without the ``/v1`` prefix, as LiteLLM serves them."""
    return ["/v1" + path, path]
