"""Learned-router artifacts from S3 into /tmp: verified, hot-reloaded (``gateway.reload``), last good kept.

``LLMROUTER_MODEL_S3_KEY`` names one artifact directory (``router/default/``, served as the
artifact ``default``) or a prefix holding several (``router/`` with ``router/default/``,
``router/cost-aware/``, ... each served under its folder name). A key that does not end in ``/``
is treated as a folder too. One ListObjectsV2 call gives every object's ETag, so the hot-reload
check is a single request; an artifact is downloaded again only when one of its ETags changed.

Each download goes to a fresh directory and is verified by ``router.load_artifact`` (SHA-256 of
every file, optional HMAC) before it replaces the serving copy; a missing, tampered or unreadable
artifact is logged and reported in ``status()`` while the last good copy keeps serving.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from router import Artifact, load_artifact

from gateway import aws
from gateway.observability import subsegment
from gateway.reload import CheckSchedule

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
MAX_OBJECTS = 1000
COPY_CHUNK_BYTES = 1 << 20


class ArtifactStore:
    def __init__(self, bucket: str | None, key: str, tmp_dir: str, *, hot_reload: bool, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket = bucket
        self.prefix = key if key.endswith("/") else key + "/"
        self.root = Path(tmp_dir) / "router"
        self.schedule = CheckSchedule(hot_reload=hot_reload, interval=interval, clock=clock)
        self.artifacts: dict[str, Artifact] = {}
        self.fingerprints: dict[str, str] = {}
        self.folders: dict[str, str] = {}  # artifact name -> its folder under the prefix, as last listed
        self.errors: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self.generation = 0  # bumps whenever the served set changes (routers are rebuilt then)
        self.downloads = 0

    @property
    def configured(self) -> bool:
        return bool(self.bucket)

    @property
    def location(self) -> str | None:
        return f"s3://{self.bucket}/{self.prefix}" if self.bucket else None

    # -- S3 ------------------------------------------------------------------------------------
    def _listing(self) -> dict[str, tuple[str, dict[str, str]]]:
        """{artifact name: (folder under the prefix, {file name: etag})} for every folder with a manifest."""
        s3 = aws.client("s3")
        objects: dict[str, str] = {}
        token = None
        while True:
            kwargs = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": MAX_OBJECTS}
            if token:
                kwargs["ContinuationToken"] = token
            page = s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                objects[obj["Key"][len(self.prefix):]] = obj["ETag"]
            if not page.get("IsTruncated"):
                break
            token = page["NextContinuationToken"]
        groups: dict[str, tuple[str, dict[str, str]]] = {}
        for rel in objects:
            if rel == MANIFEST or rel.endswith("/" + MANIFEST):
                folder = rel[: -len(MANIFEST)]
                files = {k[len(folder):]: v for k, v in objects.items()
                         if k.startswith(folder) and "/" not in k[len(folder):]}
                groups[folder.rstrip("/") or "default"] = (folder, files)
        return groups

    @staticmethod
    def _fingerprint(files: dict[str, str]) -> str:
        return hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]

    def _download(self, name: str, folder: str, files: dict[str, str], fingerprint: str) -> Path:
        target = self.root / f"{name}-{fingerprint}"
        partial = target.with_name(target.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        s3 = aws.client("s3")
        for rel in files:
            # get_object, not download_file: an artifact's files are a few MB at most, and
            # download_file's transfer manager starts and joins a thread pool per file (about
            # 0.1 s of a cold start for one artifact).
            body = s3.get_object(Bucket=self.bucket, Key=self.prefix + folder + rel)["Body"]
            with open(partial / rel, "wb") as out:
                shutil.copyfileobj(body, out, COPY_CHUNK_BYTES)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        self.downloads += 1
        return target

    # -- load / refresh ------------------------------------------------------------------------
    def load(self) -> None:
        if not self.configured:
            return
        with self.schedule.lock:
            self.schedule.mark_checked()
            self._sync()

    def _sync(self) -> None:
        with subsegment("router.artifacts.sync"):
            try:
                groups = self._listing()
            except Exception as err:  # S3 down: keep serving what we have
                self.errors["_listing"] = f"cannot list {self.location}: {type(err).__name__}: {err}"
                log.error("router artifacts not refreshed: %s", self.errors["_listing"])
                return
        self.errors.pop("_listing", None)
        if not groups:
            self.errors["_listing"] = f"no artifact (no {MANIFEST}) under {self.location}"
            log.error("router artifacts: %s", self.errors["_listing"])
        changed = False
        for name, (folder, files) in groups.items():
            self.folders[name] = folder
            fingerprint = self._fingerprint(files)
            if self.fingerprints.get(name) == fingerprint or self._failed.get(name) == fingerprint:
                continue
            try:
                path = self._download(name, folder, files, fingerprint)
                artifact = load_artifact(path)
            except Exception as err:  # ArtifactError, S3 errors, disk full: all keep the last good copy
                message = f"artifact {name!r} from {self.location}: {err}"
                self.errors[name] = message
                self._failed[name] = fingerprint
                log.error("router artifact rejected, %s: %s", "last good kept" if name in self.artifacts else "none serving", message)
                continue
            self.artifacts[name] = artifact
            self.fingerprints[name] = fingerprint
            self.errors.pop(name, None)
            self._failed.pop(name, None)
            changed = True
            log.info("router artifact %r version %s loaded", name, artifact.version)
        for name in list(self.errors):
            if name != "_listing" and name not in groups:
                self.errors[name] = f"artifact {name!r} is no longer in {self.location}"
        if changed:
            self.generation += 1

    def due(self) -> bool:
        """Whether ``refresh()`` would list S3 now. No cold retry: a missing artifact does not stop
        the gateway (its virtual models use their fallback), so only the hot-reload interval applies."""
        return self.configured and self.schedule.due(loaded=True)

    def force_check(self) -> None:
        """Make the next ``refresh()`` list S3 whatever the interval."""
        self.schedule.force_check()

    def refresh(self) -> None:
        if not self.due():
            return
        with self.schedule.checking() as mine:
            if mine:
                self._sync()

    def status(self) -> dict[str, Any]:
        return {
            "ok": not self.configured or bool(self.artifacts),
            "source": self.location,
            "artifacts": {name: {"version": a.version, "strategy": a.strategy} for name, a in self.artifacts.items()},
            "errors": dict(self.errors),
        }
