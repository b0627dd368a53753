"""``s3`` media storage: objects in one bucket of any S3-compatible server (AWS, MinIO, SeaweedFS,
Ceph...), through ``obstore`` (sync calls for tasks, async for the API; one HTTP pool per process).

Keys are the same as on disk, under ``S3_PREFIX``. Produced audio keeps its app URL
(``MEDIA_URL_PREFIX/audio/<day>/<name>``); the app answers it with a redirect to a presigned URL
that lives ``S3_PRESIGN_SECONDS``, so the bucket stays private and a link handed out cannot be used
for long. Uploads are staged under ``VAR_DIR/media-staging`` (ffprobe reads them there), then put.

Any failure to reach or use the bucket is :class:`MediaStoreUnavailable`: tasks retry it, an upload
answers 503 and is not accepted (nothing is queued for a file that is not stored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Literal

import anyio
import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import S3Store

from backend.core.config import Settings
from backend.voice.exceptions import AudioProcessingError, MediaStoreUnavailable
from backend.voice.media.base import AREAS, MISSING_UPLOAD, CleanupReport, public_key, retention_cutoff

UNAVAILABLE = "Хранилище медиафайлов недоступно. Попробуйте через минуту."
LIST_CHUNK = 1000


def _unavailable(exc: Exception) -> MediaStoreUnavailable:
    # obstore's message names the method and the object URL, never the credentials.
    return MediaStoreUnavailable(f"{UNAVAILABLE} ({type(exc).__name__})")


class S3MediaStorage:
    kind: Literal["local", "s3"] = "s3"

    def __init__(self, settings: Settings) -> None:
        endpoint = settings.S3_ENDPOINT_URL.rstrip("/")
        timeout = settings.S3_TIMEOUT_SECONDS
        self.bucket = settings.S3_BUCKET
        self.prefix = settings.S3_PREFIX.strip("/") + "/" if settings.S3_PREFIX.strip("/") else ""
        self.url_prefix = settings.MEDIA_URL_PREFIX.rstrip("/")
        self.presign = timedelta(seconds=settings.S3_PRESIGN_SECONDS)
        self.staging = settings.VAR_DIR / "media-staging"
        self._endpoint = endpoint or f"s3.{settings.S3_REGION}.amazonaws.com"
        self.store = S3Store(
            self.bucket,
            endpoint=endpoint or None,
            access_key_id=settings.S3_ACCESS_KEY_ID or None,
            secret_access_key=settings.S3_SECRET_ACCESS_KEY or None,
            region=settings.S3_REGION,
            virtual_hosted_style_request=not settings.S3_PATH_STYLE,
            client_options={
                "allow_http": endpoint.startswith("http://"),
                "connect_timeout": timedelta(seconds=min(timeout, 3.0)),
                "timeout": timedelta(seconds=timeout),
            },
            retry_config={
                "max_retries": 2,
                "retry_timeout": timedelta(seconds=timeout),
                "backoff": {
                    "init_backoff": timedelta(milliseconds=100),
                    "max_backoff": timedelta(seconds=1),
                    "base": 2,
                },
            },
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self._endpoint}"

    def _path(self, key: str) -> str:
        return self.prefix + key

    # --- writing -------------------------------------------------------------------------------------
    def staging_path(self, key: str) -> Path:
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unavailable(exc) from exc
        return self.staging / key.replace("/", "_")

    def publish(self, key: str, staged: Path) -> None:
        try:
            obstore.put(self.store, self._path(key), staged)
        except (ObstoreError, OSError) as exc:
            raise _unavailable(exc) from exc
        finally:
            staged.unlink(missing_ok=True)

    async def publish_async(self, key: str, staged: Path) -> None:
        try:
            await obstore.put_async(self.store, self._path(key), staged)
        except (ObstoreError, OSError) as exc:
            raise _unavailable(exc) from exc
        finally:
            await anyio.Path(staged).unlink(missing_ok=True)

    def discard(self, staged: Path) -> None:
        staged.unlink(missing_ok=True)

    # --- reading ---------------------------------------------------------------------------------------
    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        staged = self.staging_path(f"read_{os.getpid()}_{key}")
        try:
            data = obstore.get(self.store, self._path(key)).bytes()
        except FileNotFoundError as exc:
            raise AudioProcessingError(MISSING_UPLOAD) from exc
        except (ObstoreError, OSError) as exc:
            raise _unavailable(exc) from exc
        try:
            staged.write_bytes(bytes(data))
            yield staged
        finally:
            staged.unlink(missing_ok=True)

    def url_for(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"

    def remove(self, key: str) -> bool:
        try:
            obstore.head(self.store, self._path(key))
            obstore.delete(self.store, self._path(key))
        except FileNotFoundError:
            return False
        except (ObstoreError, OSError) as exc:
            raise _unavailable(exc) from exc
        return True

    async def presigned_url(self, day: str, name: str) -> str | None:
        """A short-lived GET link to the produced audio ``/media/audio/<day>/<name>`` names, if it exists."""
        key = public_key(day, name)
        if key is None:
            return None
        try:
            await obstore.head_async(self.store, self._path(key))
            return await obstore.sign_async(self.store, "GET", self._path(key), self.presign)
        except FileNotFoundError:
            return None
        except (ObstoreError, OSError) as exc:
            raise _unavailable(exc) from exc

    # --- retention ---------------------------------------------------------------------------------------
    def cleanup(self, retention_days: int, *, now: float | None = None, dry_run: bool = False) -> CleanupReport:
        cutoff = retention_cutoff(retention_days, now)
        report = CleanupReport()
        for area in AREAS:
            try:
                for batch in obstore.list(self.store, prefix=self._path(area) + "/", chunk_size=LIST_CHUNK):
                    old = [meta for meta in batch if meta["last_modified"].timestamp() < cutoff]
                    report.kept += len(batch) - len(old)
                    if old and not dry_run:
                        obstore.delete(self.store, [meta["path"] for meta in old])
                    report.deleted += len(old)
                    report.deleted_bytes += sum(meta["size"] for meta in old)
            except (ObstoreError, OSError):
                report.errors += 1
        return report
