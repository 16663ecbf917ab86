"""Stateless router: request in, ranked choice of deployments (and why) out.

No AWS, web or LLM-client imports; serving needs only the standard library (Python 3.12+: scoring
uses ``math.sumprod``), training and the knn baseline need numpy. See ``router/README.md`` for
settings and artifact formats.
"""
import sys

if sys.version_info < (3, 12):  # noqa: UP036  (for copies outside pip: say why, not "cannot import name 'sumprod'")
    raise ImportError(f"router needs Python 3.12 or newer (math.sumprod); this is {sys.version.split()[0]}")

from .artifacts import Artifact, load_artifact
from .errors import ArtifactError, NoCandidateError, RouterConfigError, RouterError
from .factory import STRATEGIES, build_router
from .strategies.ab import bucket as ab_bucket
from .types import Candidate, Decision, RouteRequest, Router, ScoredCandidate

__all__ = ["Artifact", "ArtifactError", "Candidate", "Decision", "NoCandidateError", "RouteRequest", "Router",
           "RouterConfigError", "RouterError", "STRATEGIES", "ScoredCandidate", "ab_bucket", "build_router",
           "load_artifact"]
