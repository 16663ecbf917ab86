"""Lambda SnapStart restore hooks.

With SnapStart, init runs once and the memory snapshot is restored into many execution
environments. Anything that must differ per environment, or that holds credentials that may have
expired since the snapshot, is refreshed after restore: boto3 clients (and their connection pools),
the random generators, and the time of the last config/artifact check (so a restored snapshot
looks at S3 on its first request instead of trusting a possibly old config).
"""
from __future__ import annotations

import logging
import os
import random

log = logging.getLogger(__name__)


def after_restore() -> None:
    from gateway import aws
    from gateway.runtime import get_runtime

    aws.reset()
    random.seed(os.urandom(32))
    runtime = get_runtime()
    runtime.config._last_check = None
    runtime.artifacts._last_check = None
    log.info("restored from a SnapStart snapshot: AWS clients and random state refreshed")


def register() -> bool:
    """Register the hooks when running under SnapStart's runtime (a no-op anywhere else)."""
    try:
        from snapshot_restore_python import register_after_restore  # provided by the Lambda runtime
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True
