"""Errors of the router library.

They subclass ValueError so that callers (the gateway's readiness check, config validation) can catch
one family and print ``str(exc)``: every message is written for a human operator and never contains
prompt text.
"""
from __future__ import annotations


class RouterError(ValueError):
    """Base class of every error raised by ``router``."""


class RouterConfigError(RouterError):
    """``router_settings`` are invalid (unknown strategy, missing model, bad threshold ...)."""


class ArtifactError(RouterError):
    """An artifact directory is missing, unreadable, tampered with, or fails its signature."""


class NoCandidateError(RouterError):
    """No model the request may use can be chosen (empty or disjoint candidate list)."""
