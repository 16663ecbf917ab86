"""Lambda SnapStart restore hooks.

With SnapStart, init runs once and the memory snapshot is restored into many execution
environments. Anything that must differ per environment, or that holds credentials that may have
expired since the snapshot, is refreshed after restore: boto3 clients (and their connection pools),
the random generator (litellm's ``simple-shuffle`` picks deployments with ``random``; copies sharing
one state would all pick alike), the master key (re-read from its secret, so a rotation applies to
restored copies as to cold starts, and checked again: a weak one fails the restore), and the
config/artifact checks (so a restored copy looks at S3 on its first request instead of trusting a
config as old as the snapshot).

The hooks are registered with ``snapshot_restore_py``, the library AWS ships in its managed Python
runtimes ("Lambda SnapStart runtime hooks for Python",
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html; PyPI
``snapshot-restore-py``). Lambda runs after-restore hooks in registration order and must finish
them within its restore timeout (10 s), so ``after_restore`` does at most one call (GetSecretValue,
when the key is in Secrets Manager); the S3 checks happen on the next request.
"""
from __future__ import annotations

import logging
import os
import random

log = logging.getLogger(__name__)
_registered = False


def after_restore() -> None:
    from gateway import aws, settings
    from gateway.runtime import get_runtime

    aws.reset()
    random.seed(os.urandom(32))
    settings.master_key.cache_clear()
    settings.check_master_key(settings.master_key(), settings.master_key_origin())
    runtime = get_runtime()
    runtime.reloads.force_check()
    log.info("restored from a SnapStart snapshot: AWS clients, random state and master key refreshed")


def register() -> bool:
    """Register ``after_restore`` with the runtime's hook library, once per process.

    Returns False where the library is absent (a plain python outside Lambda's managed runtime);
    there nothing restores a snapshot, so there is nothing to refresh.
    """
    global _registered
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    if not _registered:
        register_after_restore(after_restore)
        _registered = True
    return True
