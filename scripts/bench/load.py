"""Load benchmark in the production topology on this machine, driven by ``wrk``.

``python -m scripts.bench.load [--seconds 20] [--phases offline,openai]``

Topology (``_stack.py``): nginx with the deploy site over https (self-signed certificate, loopback
high ports), the API from ``leadinc-api.service`` with 2 uvicorn workers, real Celery workers for
``text`` and ``audio``, PostgreSQL 127.0.0.1:5432 (a throwaway database, dropped at the end), Redis
127.0.0.1:6379 db 9 (flushed first), the demo index under ``var/bench``. Production settings
(``ENVIRONMENT=production``, CSRF on, INFO logs, multiprocess metrics) except the flood and daily
limits, raised so that one client IP is never answered 429 (the limiter still runs).

Phases (each starts its own stack, so the API and workers run with that phase's settings):

* ``offline``: the offline model; wrk at each of ``--offline-conns`` (8, 32, 128) connections;
* ``openai``: the OpenAI-compatible stand-in (``tests/openai_standin.py`` in its own process)
  answering every completion after ``--delay`` seconds; wrk at ``--openai-conns`` (50, 200, 500).

Each wrk run (``scripts/bench/chat.lua``) keeps one pre-created session per connection (cookie and
CSRF token from ``GET /auth/session``) and is preceded, in the same stack, by the same run against the
baseline (``_baseline.py``: one Redis GET and two inserts per turn, 2 workers, behind the same nginx
at ``/bench-baseline/``; in the ``openai`` phase it also makes the product's call to the same
stand-in, so the ratio isolates our overhead). Around every run the CPU time of each process group
(API, baseline, nginx, Celery, stand-in, and the shared PostgreSQL and Redis servers) is read from
``/proc`` and reported per answered turn. The streamed endpoint's time to the first ``delta`` event is measured by a
small httpx client through nginx, one stream at a time and then ``--ttfd-concurrent`` streams at once,
for the product and the baseline. Peak RSS (VmHWM) of every process is read before each stack stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.bench._common import (
    BENCH_VAR_DIR,
    MESSAGES,
    StandIn,
    ThrowawayDatabase,
    flush_redis,
    machine,
    percentiles,
    prepare_index,
)
from scripts.bench._stack import BASELINE_PREFIX, NGINX, Stack, cpu_seconds, descendants, is_helper

LUA = Path(__file__).with_name("chat.lua")
WRK_THREADS = 2  # one per core of the target machine kind
MESSAGE = "сколько стоят ваши тарифы?"


def check_tools() -> str | None:
    if shutil.which("wrk") is None:
        return "wrk is not installed; install it with: apt-get install -y wrk"
    if not Path(NGINX).exists():
        return "nginx is not installed; install it with: apt-get install -y nginx"
    return None


async def make_sessions(stack: Stack, count: int, baseline: bool) -> list[str]:
    """``count`` conversations, one line each: ``<Cookie header>\\t<X-CSRFToken>`` (see chat.lua)."""
    gate = asyncio.Semaphore(16)

    async def one() -> str:
        async with gate, stack.client(timeout=30) as client:
            if baseline:
                response = await client.post(f"{BASELINE_PREFIX}/start")
            else:
                response = await client.get("/auth/session")
            response.raise_for_status()
            sid = response.cookies["sessionid"]
            csrf = response.cookies.get("csrftoken", "")
            cookie = f"sessionid={sid}" + (f"; csrftoken={csrf}" if csrf else "")
            return f"{cookie}\t{csrf}"

    return list(await asyncio.gather(*(one() for _ in range(count))))


def run_wrk(
    stack: Stack, path: str, conns: int, seconds: float, sessions: list[str], log: Path, unique: bool = False
) -> dict[str, Any]:
    threads = min(WRK_THREADS, conns)
    with tempfile.NamedTemporaryFile("w", suffix=".sessions", delete=False) as handle:
        handle.write("\n".join(sessions) + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".messages", delete=False, encoding="utf-8") as mix:
        mix.write("\n".join(MESSAGES) + "\n")  # the same mix as the in-process benchmarks
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{int(seconds)}s", "--timeout", "30s", "-s", str(LUA)]
    argv += [stack.base + path, "--", handle.name, str(threads), mix.name] + (["unique"] if unique else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90, check=False)
    finally:
        Path(handle.name).unlink(missing_ok=True)
        Path(mix.name).unlink(missing_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    match = re.search(r"^WRK_JSON (.+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures: dict[str, Any] = json.loads(match.group(1))
    ok = int(figures["statuses"].get("200", 0))
    figures |= {"conns": conns, "ok": ok, "rps": ok / (figures["duration_us"] / 1e6)}
    return figures


async def stream_once(stack: Stack, path: str, session: str) -> tuple[float, float] | str:
    """Seconds to the first ``delta`` event and to the ``message`` event of one streamed turn."""
    cookie, csrf = session.split("\t")
    headers = {"Cookie": cookie, "Content-Type": "application/json"} | ({"X-CSRFToken": csrf} if csrf else {})
    async with stack.client(timeout=60) as client:
        started = time.perf_counter()
        first: float | None = None
        body = json.dumps({"message": MESSAGE}, ensure_ascii=False).encode()
        async with client.stream("POST", path, content=body, headers=headers) as response:
            if response.status_code != 200:
                return f"status {response.status_code}"
            buffer = ""
            async for chunk in response.aiter_text():
                buffer = (buffer + chunk).replace("\r\n", "\n")
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    event = next((line[6:].strip() for line in block.split("\n") if line.startswith("event:")), "")
                    now = time.perf_counter() - started
                    if event == "delta" and first is None:
                        first = now
                    elif event == "message":
                        return (first if first is not None else now), now
                    elif event == "error":
                        return f"error event {block}"
    return "stream ended without a message"


async def measure_ttfd(stack: Stack, path: str, sessions: list[str], sequential: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for mode, batch in (("one at a time", None), (f"{len(sessions)} at once", len(sessions))):
        outcomes: list[tuple[float, float] | str] = []
        if batch is None:
            for i in range(sequential):
                outcomes.append(await stream_once(stack, path, sessions[i % len(sessions)]))
        else:
            outcomes = list(await asyncio.gather(*(stream_once(stack, path, s) for s in sessions)))
        good = [o for o in outcomes if isinstance(o, tuple)]
        failures = [o for o in outcomes if isinstance(o, str)]
        entry: dict[str, Any] = {"n": len(good), "failures": failures[:3], "failed": len(failures)}
        if good:
            first, total = percentiles([g[0] for g in good]), percentiles([g[1] for g in good])
            entry |= {"first_p50": first[50], "first_p95": first[95], "total_p50": total[50], "total_p95": total[95]}
        results[mode] = entry
    return results


def start_profilers(stack: Stack, py_spy: str, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy (not a project dependency: give its path) on every API worker, collapsed stacks of the
    thread holding the GIL (py-spy's idle detection does not work on every machine, and without
    ``--gil`` the samples include threads waiting for it)."""
    out.mkdir(parents=True, exist_ok=True)
    api = stack.procs["api"].pid
    workers = [p for p in descendants(api) if p != api and not is_helper(p)]
    profilers = []
    for pid in workers:
        argv = [py_spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100", "--nonblocking", "--gil"]
        argv += ["-f", "raw", "-o", str(out / f"worker_{pid}.txt")]
        profilers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    print(f"    profiling {len(workers)} API workers with py-spy into {out}", flush=True)
    return profilers


def run_phase(name: str, args: argparse.Namespace, database_url: str, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    extra: dict[str, str] = dict(args.env)
    standin: StandIn | None = None
    conns_list = args.offline_conns if name == "offline" else args.openai_conns
    if name == "openai":
        standin = StandIn(args.delay, workdir / "standin.log")
        extra |= {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": standin.base_url,
            "OPENAI_TIMEOUT_SECONDS": "60",
            "OPENAI_MAX_RETRIES": "0",
        }
    stack = Stack(database_url, workdir, extra, label=f"_{name}")
    phase: dict[str, Any] = {"phase": name, "runs": []}
    log = workdir / "logs" / "wrk.log"
    try:
        print(f"[{name}] starting nginx, API (2 workers), baseline (2 workers), Celery text+audio", flush=True)
        stack.start()
        warm = asyncio.run(make_sessions(stack, 4, baseline=False))
        run_wrk(stack, "/ai/chat", 4, 3, warm, log)  # the first turns of each worker load lazy pieces
        for conns in conns_list:
            for target, path, baseline in (
                ("baseline", f"{BASELINE_PREFIX}/ai/chat", True),
                ("product", "/ai/chat", False),
            ):
                sessions = asyncio.run(make_sessions(stack, conns * args.sessions_per_conn, baseline))
                print(f"[{name}] wrk {target} {conns} connections, {args.seconds:.0f} s", flush=True)
                profiling = []
                if args.py_spy and target == "product" and conns == args.profile_conns:
                    profiling = start_profilers(stack, args.py_spy, args.seconds, args.profile_dir / f"{name}_{conns}")
                groups = stack.process_groups(standin.proc.pid if standin is not None else None)
                cpu_before = {role: cpu_seconds(pids) for role, pids in groups.items()}
                try:
                    figures = run_wrk(stack, path, conns, args.seconds, sessions, log, args.unique_messages)
                    turns = max(1, figures["ok"])
                    figures["cpu_ms_per_turn"] = {
                        role: round((cpu_seconds(pids) - cpu_before[role]) * 1000 / turns, 2)
                        for role, pids in groups.items()
                    }
                finally:
                    for profiler in profiling:
                        try:
                            profiler.wait(timeout=60)
                        except subprocess.TimeoutExpired:
                            profiler.kill()
                            profiler.wait(timeout=5)
                phase["runs"].append({"target": target} | figures)
                print(f"    {describe(figures)}", flush=True)
                time.sleep(2)
        for target, path, baseline in (
            ("baseline", f"{BASELINE_PREFIX}/ai/chat/stream", True),
            ("product", "/ai/chat/stream", False),
        ):
            sessions = asyncio.run(make_sessions(stack, args.ttfd_concurrent, baseline))
            print(f"[{name}] time to first delta: {target}", flush=True)
            phase[f"ttfd_{target}"] = asyncio.run(measure_ttfd(stack, path, sessions, args.ttfd_requests))
        phase["peak_rss_mib"] = stack.peak_rss()
    finally:
        stack.stop()
        if standin is not None:
            standin.stop()
    return phase


def describe(f: dict[str, Any]) -> str:
    errors = {k: v for k, v in f["errors"].items() if v}
    return (
        f"{f['rps']:.1f} turns/s; p50 {f['p50_us'] / 1000:.0f} ms, p95 {f['p95_us'] / 1000:.0f} ms, "
        f"p99 {f['p99_us'] / 1000:.0f} ms; statuses {f['statuses']}"
        + (f"; scenarios {f['scenarios']}" if f["scenarios"] else "")
        + (f"; errors {errors}" if errors else "")
    )


def report(phases: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = []
    for phase in phases:
        lines += [f"\n### {phase['phase']}", ""]
        lines += ["| conns | target | turns/s | p50 ms | p95 ms | p99 ms | non-200 / socket errors | ratio turns/s |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        by_conns: dict[int, dict[str, dict[str, Any]]] = {}
        for run in phase["runs"]:
            by_conns.setdefault(run["conns"], {})[run["target"]] = run
        for conns, pair in by_conns.items():
            for target in ("baseline", "product"):
                r = pair.get(target)
                if r is None:
                    continue
                bad = r["requests"] - r["ok"]
                socket_errors = sum(v for k, v in r["errors"].items() if k != "status")
                ratio = ""
                if target == "product" and pair.get("baseline", {}).get("rps"):
                    ratio = f"{r['rps'] / pair['baseline']['rps']:.3f}"
                lines.append(
                    f"| {conns} | {target} | {r['rps']:.1f} | {r['p50_us'] / 1000:.0f} | {r['p95_us'] / 1000:.0f} "
                    f"| {r['p99_us'] / 1000:.0f} | {bad} / {socket_errors} | {ratio} |"
                )
        roles = sorted({role for run in phase["runs"] for role in run.get("cpu_ms_per_turn", {})})
        if roles:
            lines += ["", "CPU ms per answered turn, by process group (from /proc, the run's own change):", ""]
            lines += ["| conns | target | " + " | ".join(roles) + " |", "|---|---|" + "---|" * len(roles)]
            for run in phase["runs"]:
                cpu = run.get("cpu_ms_per_turn", {})
                cells = " | ".join(f"{cpu[r]:.2f}" if r in cpu else "" for r in roles)
                lines.append(f"| {run['conns']} | {run['target']} | {cells} |")
        lines += ["", "| streamed turn | target | n | first delta p50 | p95 | message p50 | p95 | failed |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for target in ("baseline", "product"):
            for mode, e in phase.get(f"ttfd_{target}", {}).items():
                if e.get("n"):
                    lines.append(
                        f"| {mode} | {target} | {e['n']} | {e['first_p50'] * 1000:.0f} ms | {e['first_p95'] * 1000:.0f} ms "
                        f"| {e['total_p50'] * 1000:.0f} ms | {e['total_p95'] * 1000:.0f} ms | {e['failed']} |"
                    )
                else:
                    lines.append(f"| {mode} | {target} | 0 | | | | | {e['failed']} {e['failures']} |")
        lines += [
            "",
            "Peak RSS (VmHWM, MiB) per process: "
            + "; ".join(
                f"{role} {', '.join(str(v) for v in values)}" for role, values in phase.get("peak_rss_mib", {}).items()
            ),
        ]
    return "\n".join(lines)


def _conns(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(not 1 <= v <= 1000 for v in values):
        raise argparse.ArgumentTypeError("connection counts are 1..1000, comma-separated")
    return values


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.isupper():
        raise argparse.ArgumentTypeError("KEY=VALUE with an upper-case settings key")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each wrk run (bounded 1..120)")
    parser.add_argument("--phases", default="offline,openai")
    parser.add_argument("--offline-conns", type=_conns, default=[8, 32, 128])
    parser.add_argument("--openai-conns", type=_conns, default=[50, 200, 500])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the OpenAI stand-in waits")
    parser.add_argument("--ttfd-requests", type=int, default=20, help="streamed turns one at a time")
    parser.add_argument("--ttfd-concurrent", type=int, default=32, help="streamed turns at once")
    parser.add_argument(
        "--env", type=_setting, action="append", default=[], metavar="KEY=VALUE", help="a setting for the stack"
    )
    parser.add_argument(
        "--unique-messages", action="store_true", help="append a running number to every message (no repeats)"
    )
    parser.add_argument(
        "--sessions-per-conn",
        type=int,
        default=1,
        help="conversations per connection (chat.lua uses a thread's sessions round-robin, so with 1 a turn "
        "slower than one round may overlap the next turn of its session, which then waits for the turn lock)",
    )
    parser.add_argument("--py-spy", metavar="PATH", help="profile the API workers with this py-spy binary")
    parser.add_argument("--profile-conns", type=int, default=32, help="the product run to profile")
    parser.add_argument("--profile-dir", type=Path, default=BENCH_VAR_DIR / "profiles")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory (logs, config)")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 120 or not 1 <= args.ttfd_requests <= 200 or not 1 <= args.ttfd_concurrent <= 500:
        parser.error("--seconds 1..120, --ttfd-requests 1..200, --ttfd-concurrent 1..500 (every loop is bounded)")
    if not 1 <= args.sessions_per_conn <= 8:
        parser.error("--sessions-per-conn 1..8")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - {"offline", "openai"}:
        parser.error("--phases takes offline and/or openai")
    signal.signal(signal.SIGTERM, _interrupted)  # a stopped run still stops what it started
    problem = check_tools()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    print(f"{started:%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    print(f"command: python -m scripts.bench.load {' '.join(argv if argv is not None else sys.argv[1:])}")
    prepare_index()
    flush_redis()
    workdir = Path(tempfile.mkdtemp(prefix="leadinc-load-"))
    results: list[dict[str, Any]] = []
    try:
        with ThrowawayDatabase() as database:
            for name in phases:
                results.append(run_phase(name, args, database.url, workdir / name))
    finally:
        if args.keep_logs:
            print(f"logs and rendered config kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        flush_redis()
    out = BENCH_VAR_DIR / "load-results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{started:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps({"started": started.isoformat(), "machine": machine(), "phases": results}, indent=1))
    print(report(results, args))
    print(f"\nafter the run: {machine()}\nfigures saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
