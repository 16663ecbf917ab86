"""Serverless LLM gateway: the shared package behind the Lambda handlers.

Everything that both the API function and the batch functions need lives here; the handlers in
``functions/`` only wire it to their event sources.
"""
