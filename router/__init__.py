"""Stateless router: request in, ranked choice of deployments (and why) out.

No AWS, web or LLM-client imports; runtime needs only the standard library and numpy. See
``router/README.md`` for settings and artifact formats.
"""
from .artifacts import Artifact, load_artifact
from .errors import ArtifactError, NoCandidateError, RouterConfigError, RouterError
from .factory import STRATEGIES, build_router
from .strategies.ab import bucket as ab_bucket
from .types import Candidate, Decision, RouteRequest, Router, ScoredCandidate

__all__ = ["Artifact", "ArtifactError", "Candidate", "Decision", "NoCandidateError", "RouteRequest", "Router",
           "RouterConfigError", "RouterError", "STRATEGIES", "ScoredCandidate", "ab_bucket", "build_router",
           "load_artifact"]
