"""The production topology on this machine, for the load benchmark: a real nginx with the deploy site
(rendered by ``deploy/install.sh --render-only``, a self-signed certificate, loopback high ports, https),
the API started with the ExecStart of ``leadinc-api.service`` (uvicorn, ``WEB_CONCURRENCY=2``), the two
Celery workers from their units (``text``, ``audio``), PostgreSQL 127.0.0.1:5432 (a throwaway database,
made by the caller) and Redis 127.0.0.1:6379 db 9.

Only the rendered copy of the site gets one addition: ``/bench-baseline/`` proxied (unbuffered, so its
SSE works) to the baseline app (``scripts.bench._baseline``, uvicorn with 2 workers too), so the
baseline crosses the same nginx, TLS and proxy hop as the product. Every process is started in its own
process group and stopped by ``Stack.stop``; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import ssl
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import httpx

from backend.core.config import ROOT_DIR
from scripts.bench._common import BENCH_REDIS_URL, BENCH_VAR_DIR, RAISED_LIMITS, free_port

sys.path.insert(0, str(ROOT_DIR / "tests"))  # the deployment test's helpers: one way to render and run
from deploy.support import (
    NGINX,
    drop_ipv6_listens,
    has_ipv6_loopback,
    make_cert,
    nginx_conf,
    render,
    spawn,
    stop,
    tail,
    unit_exec_start,
    wait_for_port,
)

SECRET = "load-bench-secret-0123456789abcdefghijklmnopqrstuv"  # noqa: S105 - a throwaway local run
ADMIN_TOKEN = "load-bench-admin-token-0123456789abcdef"  # noqa: S105
BASELINE_PREFIX = "/bench-baseline"

BASELINE_UPSTREAM = """upstream bench_baseline {{
    server 127.0.0.1:{port};
    keepalive 16;
    keepalive_timeout 60s;
}}

"""

BASELINE_LOCATION = f"""    # Added by scripts/bench/_stack.py in the rendered copy only: the benchmark's baseline app.
    location {BASELINE_PREFIX}/ {{
        proxy_pass http://bench_baseline/;
        proxy_buffering off;
    }}

    location /ai/ {{"""


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker (started by uvicorn's workers), not a worker itself."""
    with suppress(OSError):
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (from /proc/<pid>/stat), seconds."""
    total = 0
    for pid in pids:
        with suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    """Every process whose command name is ``name`` (shared servers: PostgreSQL, Redis)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM (peak resident set size) of one process, MiB."""
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


@dataclass
class Stack:
    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    label: str = ""
    https_port: int = 0
    ca: ssl.SSLContext | None = None
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, Popen[bytes]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, verify=self.ca or True, **kwargs)  # type: ignore[arg-type]

    def _environment(self) -> dict[str, str]:
        dirs = {name: self.workdir / name for name in ("media", "log", "metrics", "home")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(dirs["home"]),
            "PYTHONUNBUFFERED": "1",
            "ENVIRONMENT": "production",
            "SECRET": SECRET,
            "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": BENCH_REDIS_URL,
            "VAR_DIR": str(BENCH_VAR_DIR),  # the demo index prepared by _common.prepare_index
            "MEDIA_DIR": str(dirs["media"]),
            "ERROR_JOURNAL_PATH": str(dirs["log"] / "error_journal.jsonl"),
            "ALLOWED_HOSTS": "127.0.0.1",
            "TRUSTED_PROXIES": "127.0.0.1",
            "CSRF_ENABLED": "true",
            "CELERY_EAGER": "false",
            "LOG_LEVEL": "INFO",
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(dirs["metrics"]),
            "ANONYMIZED_TELEMETRY": "False",
            **RAISED_LIMITS,
            **self.extra_env,
        }

    def start(self) -> Stack:
        root = self.workdir
        nginx_dir, logs = root / "nginx", root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cert, key = make_cert(root / "tls")
        api_port, baseline_port, http_port, self.https_port = free_port(), free_port(), free_port(), free_port()
        rendered = render(
            root / "rendered",
            CERT=str(cert),
            KEY=str(key),
            VAR_DIR=str(BENCH_VAR_DIR),
            MEDIA_DIR=str(root / "media"),
            LOG_DIR=str(root / "log"),
            NGINX_LOG_DIR=str(nginx_dir / "logs"),
            ACME_ROOT=str(root / "acme"),
            SNIPPETS=str(root / "rendered" / "nginx"),
            LISTEN_V4="127.0.0.1",
            LISTEN_V6="::1",
            HTTP_PORT=str(http_port),
            HTTPS_PORT=str(self.https_port),
            API_PORT=str(api_port),
            CODES_PORT=str(free_port()),
        )
        site = rendered / "nginx" / "leadinc.conf"
        if not has_ipv6_loopback():
            drop_ipv6_listens(site)
        text = site.read_text(encoding="utf-8")
        assert text.count("    location /ai/ {") == 1, "the site changed: update _stack.BASELINE_LOCATION"
        text = BASELINE_UPSTREAM.format(port=baseline_port) + text.replace("    location /ai/ {", BASELINE_LOCATION)
        site.write_text(text, encoding="utf-8")
        conf = nginx_conf(nginx_dir, site, load=True)

        self.env = self._environment()
        self.ca = ssl.create_default_context(cafile=str(cert))
        units = rendered / "systemd"
        for name, unit in (
            ("celery text", "leadinc-worker-text.service"),
            ("celery audio", "leadinc-worker-audio.service"),
        ):
            argv, cwd = unit_exec_start(units / unit, self.env)
            self.procs[name] = spawn(argv, logs / f"{name.replace(' ', '_')}{self.label}.log", cwd=cwd, env=self.env)
        argv, cwd = unit_exec_start(units / "leadinc-api.service", self.env)
        self.procs["api"] = spawn(argv, logs / f"api{self.label}.log", cwd=cwd, env=self.env)
        baseline = [str(ROOT_DIR / ".venv" / "bin" / "uvicorn"), "--factory", "scripts.bench._baseline:app"]
        baseline += ["--host", "127.0.0.1", "--port", str(baseline_port), "--workers", "2", "--no-access-log"]
        self.procs["baseline"] = spawn(baseline, logs / f"baseline{self.label}.log", env=self.env)
        self.procs["nginx"] = spawn([NGINX, "-p", f"{nginx_dir}/", "-c", str(conf)], logs / "nginx.log")
        wait_for_port(self.https_port, self.procs["nginx"], logs / "nginx.log", timeout=15)
        for name, port in (("api", api_port), ("baseline", baseline_port)):
            wait_for_port(port, self.procs[name], logs / f"{name}{self.label}.log", timeout=120)
        self._wait_healthy(logs / f"api{self.label}.log")
        return self

    def _wait_healthy(self, log: Path, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log)}")
            with suppress(httpx.HTTPError):
                ok = 0
                for path in ("/health", f"{BASELINE_PREFIX}/health"):
                    response = httpx.get(self.base + path, verify=self.ca or True, timeout=5)
                    ok += response.status_code == 200
                    last = response.text
                if ok == 2:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"not healthy after {timeout} s ({last}):\n{tail(log)}")

    def peak_rss(self) -> dict[str, list[float]]:
        """Peak RSS (VmHWM, MiB) of every process of the topology, grouped by role."""
        groups: dict[str, list[float]] = {}
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            pids = descendants(proc.pid)
            if name in ("api", "baseline"):  # the uvicorn supervisor and its workers apart
                roles = {proc.pid: f"{name} supervisor"} | {p: f"{name} worker" for p in pids[1:]}
            elif name == "nginx":
                roles = {proc.pid: "nginx master"} | {p: "nginx worker" for p in pids[1:]}
            else:
                roles = {proc.pid: f"{name} main"} | {p: f"{name} pool child" for p in pids[1:]}
            for pid, role in roles.items():
                role = f"{name} helper" if pid != proc.pid and is_helper(pid) else role
                rss = peak_rss_mib(pid)
                if rss is not None:
                    groups.setdefault(role, []).append(round(rss, 1))
        return groups

    def process_groups(self, standin: int | None = None) -> dict[str, list[int]]:
        """The processes whose CPU a run costs, by role. PostgreSQL and Redis are the machine's shared
        servers: anything else using them at the time is counted too."""
        groups = {role: descendants(self.procs[role].pid) for role in ("api", "baseline", "nginx")}
        groups["celery"] = [p for role in ("celery text", "celery audio") for p in descendants(self.procs[role].pid)]
        groups["postgres"] = pids_named("postgres")
        groups["redis"] = pids_named("redis-server")
        if standin is not None:
            groups["stand-in"] = descendants(standin)
        return groups

    def stop(self) -> None:
        order = ("nginx", "baseline", "api", "celery text", "celery audio")
        for name in sorted(self.procs, key=lambda n: order.index(n) if n in order else len(order)):
            proc = self.procs[name]
            stop(proc, signal.SIGQUIT if name == "nginx" else signal.SIGTERM, timeout=40)
        self.procs.clear()
