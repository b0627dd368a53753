"""The live index generation published through Redis (``INDEX_STORE=redis``), for hosts that share no disk.

A reindex builds a generation in its own ``KNOWLEDGE_DIR`` (as with files), writes its vectors to the
Chroma server, then publishes: the generation's files (records and BM25 data, a gzipped tar) under
``<prefix>:gen:<generation>``, then the manifest under ``<prefix>:current`` (the atomic moment) and a
message on ``<prefix>:switch``. Every process polls ``<prefix>:current`` (one GET a second at most),
mirrors a new generation into its local ``KNOWLEDGE_DIR`` (which is only a cache) and loads it without
a restart. The replaced generation is put in ``<prefix>:retired`` with the time; a later reindex
deletes it (collections and files) once ``INDEX_GRACE_SECONDS`` have passed, so a process still
answering from it meanwhile gets no errors.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import redis

from backend.core.config import Settings
from backend.knowledge.index_files import IndexPaths, Manifest

MAX_LOCAL_GENERATIONS = 2  # the live one and the one before it stay in a host's cache


class SharedIndex:
    def __init__(self, settings: Settings) -> None:
        self.paths = IndexPaths.from_settings(settings)
        self.prefix = settings.INDEX_REDIS_PREFIX
        self.grace = settings.INDEX_GRACE_SECONDS
        self.redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=3)

    @classmethod
    def from_settings(cls, settings: Settings) -> SharedIndex | None:
        return cls(settings) if settings.INDEX_STORE == "redis" else None

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # --- the published manifest ----------------------------------------------------------------------
    def manifest(self) -> Manifest | None:
        raw = self.redis.get(self._key("current"))
        return Manifest(**json.loads(raw)) if raw else None

    def publish(self, manifest: Manifest, directory: Path) -> None:
        """Upload the generation's files, then name it live (readers never see a manifest without files)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(directory, arcname=".")
        self.redis.set(self._key("gen", manifest.generation), buffer.getvalue())
        self.redis.set(self._key("current"), manifest.to_json())
        self.redis.publish(self._key("switch"), manifest.generation)

    # --- a process's local cache -------------------------------------------------------------------
    def sync(self) -> bool:
        """Mirror the published generation into the local cache and switch ``current.json`` to it.

        Returns whether the local manifest changed. Raises ``redis.RedisError`` when Redis is down
        (the caller keeps the generation it has)."""
        published = self.manifest()
        if published is None:
            return False
        local = self.paths.read_manifest()
        if local is not None and local.generation == published.generation:
            return False
        target = self.paths.generation(published.generation)
        if not (target / "faq.json").exists():
            blob = self.redis.get(self._key("gen", published.generation))
            if blob is None:  # published and already retired and collected: the next poll sees the newer one
                return False
            self._unpack(blob if isinstance(blob, bytes) else blob.encode(), target)
        self.paths.switch(published)
        self._prune_local(keep={published.generation, local.generation if local else ""})
        return True

    def _unpack(self, blob: bytes, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
                tar.extractall(staging, filter="data")  # refuses absolute paths, links out, devices
            try:
                os.replace(staging, target)  # another process of this host may have won the race
            except OSError:
                if not (target / "faq.json").exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _prune_local(self, keep: set[str]) -> None:
        root = self.paths.root / "generations"
        if not root.is_dir():
            return
        old = sorted((p for p in root.iterdir() if p.is_dir() and p.name not in keep), key=lambda p: p.stat().st_mtime)
        for path in old[: max(0, len(old) + len(keep) - MAX_LOCAL_GENERATIONS)]:
            if not path.name.startswith("."):
                shutil.rmtree(path, ignore_errors=True)

    # --- retiring replaced generations -----------------------------------------------------------------
    def retire(self, manifest: Manifest, now: float | None = None) -> None:
        self.redis.zadd(self._key("retired"), {manifest.to_json(): time.time() if now is None else now})

    def expired(self, now: float | None = None) -> list[Manifest]:
        """Retired generations whose grace period is over (safe to delete)."""
        cutoff = (time.time() if now is None else now) - self.grace
        raw = self.redis.zrangebyscore(self._key("retired"), "-inf", cutoff)
        return [Manifest(**json.loads(item)) for item in raw if isinstance(item, (bytes, str))]

    def forget(self, manifest: Manifest) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(self._key("gen", manifest.generation))
        pipe.zrem(self._key("retired"), manifest.to_json())
        pipe.execute()
