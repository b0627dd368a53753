"""Helpers for the deployment tests: render the templates with deploy/install.sh, make a certificate,
write a complete nginx.conf around the site, run nginx and the app as bounded subprocesses."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from backend.core.config import ROOT_DIR

DEPLOY_DIR = ROOT_DIR / "deploy"
NGINX = "/usr/sbin/nginx"
VENV = ROOT_DIR / ".venv"
PLACEHOLDER = re.compile(r"@[A-Z0-9_]+@")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def drop_ipv6_listens(site: Path) -> None:
    """For hosts without ::1: the site's IPv6 listen lines would make nginx fail to bind."""
    lines = site.read_text(encoding="utf-8").splitlines(keepends=True)
    site.write_text("".join(line for line in lines if "listen [" not in line), encoding="utf-8")


def render(out: Path, **values: str) -> Path:
    """Render every template with ``deploy/install.sh --render-only`` (the script operators run)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SERVER_NAME": "127.0.0.1",
        "APP_ROOT": str(ROOT_DIR),
        "VENV": str(VENV),
        "ENV_SOURCE": str(out / "no-such-env-file"),  # never the host's /etc/leadinc/leadinc.env
        **values,
    }
    result = subprocess.run(
        ["bash", str(DEPLOY_DIR / "install.sh"), "--render-only", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def make_cert(directory: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    result = subprocess.run(
        ["bash", str(DEPLOY_DIR / "make_selfsigned_cert.sh"), name, str(directory), "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return directory / "leadinc.crt", directory / "leadinc.key"


def nginx_conf(prefix: Path, site: Path, *, load: bool = False) -> Path:
    """A complete nginx.conf (everything under ``prefix``) that includes the rendered site.

    ``load`` tunes it for the load benchmark: a worker per core, many connections, long keep-alive,
    warnings only and no access log (so the disk is not what is measured).
    """
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    # A root master would switch its workers to `nobody`, who cannot read pytest's private tmp dirs.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    if load:
        main, connections, level = "worker_processes auto;\nworker_rlimit_nofile 16384;", 4096, "warn"
        tuning, access_log = "    tcp_nopush on;\n    keepalive_requests 1000000;\n", "off"
    else:
        main, connections, level, tuning, access_log = (
            "worker_processes 1;",
            256,
            "info",
            "",
            f"{prefix}/logs/access.log",
        )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}{main}
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log {level};
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
{tuning}    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    access_log {access_log};
    include {site};
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_test(prefix: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-t", "-p", f"{prefix}/", "-c", str(conf)], capture_output=True, text=True, timeout=30, check=False
    )


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{tail(log)}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} not open after {timeout} s:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def spawn(
    argv: list[str], log: Path, *, cwd: Path = ROOT_DIR, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop the process group we started: ``sig``, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with suppress(ProcessLookupError):  # workers left behind by a crashed supervisor
        os.killpg(process.pid, signal.SIGKILL)


def unit_exec_start(unit: Path, env: dict[str, str]) -> tuple[list[str], Path]:
    """ExecStart= and WorkingDirectory= of a rendered unit, with ``${VAR}`` expanded as systemd does."""
    text = unit.read_text(encoding="utf-8")
    exec_line = re.search(r"^ExecStart=(.+)$", text, re.MULTILINE)
    workdir = re.search(r"^WorkingDirectory=(.+)$", text, re.MULTILINE)
    assert exec_line and workdir, unit
    defaults = dict(re.findall(r"^Environment=(\w+)=(\S*)$", text, re.MULTILINE))
    merged = defaults | env
    command = re.sub(r"\$\{(\w+)\}", lambda m: merged[m.group(1)], exec_line.group(1)).replace("%%", "%")
    return shlex.split(command), Path(workdir.group(1))
