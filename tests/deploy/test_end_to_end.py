"""A real nginx (the rendered site, a self-signed certificate, loopback high ports) in front of the
real app started with the ExecStart of leadinc-api.service (uvicorn, two workers, production
settings, embedded Redis/SQLite/Chroma under a temp VAR_DIR), exercised over https.

The client connects from 127.0.0.5 and nginx proxies from 127.0.0.1 (the only trusted proxy), so the
client IP the app derives shows whether X-Forwarded-For is set and trusted correctly.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from deploy.support import (
    NGINX,
    drop_ipv6_listens,
    free_port,
    has_ipv6_loopback,
    make_cert,
    nginx_conf,
    nginx_test,
    render,
    spawn,
    stop,
    tail,
    unit_exec_start,
    wait_for_port,
)
from openai_standin import OpenAIStandIn, text

from backend.core.config import ROOT_DIR, Settings
from backend.voice.service import upload_body_limit

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is installed by scripts/test.sh")

CHROMIUM = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")
CLIENT_IP = "127.0.0.5"  # the test client's source address; nginx and the app see it differently
SPOOFED_IP = "203.0.113.9"
PREPARE = """
import sys
from alembic import command
from alembic.config import Config
from backend.core.config import ROOT_DIR, get_settings
from backend.core.redis import ensure_embedded_redis
from backend.knowledge.indexer import ensure_index
settings = get_settings()
url = ensure_embedded_redis(settings)
command.upgrade(Config(str(ROOT_DIR / "alembic.ini")), "head")
ensure_index(settings, progress=False)
print(url)
"""

REPLY = (
    "Я отвечаю на вопросы о заявках для бизнеса, тарифах и аналитике по нишам. "
    "Расскажите, чем занимается ваша компания, и я подскажу, с чего начать."
)


@dataclass
class Stack:
    base: str
    http_base: str
    https_port: int
    ca: ssl.SSLContext
    redis_url: str
    media_dir: Path
    app_log: Path
    rendered: Path
    env: dict[str, str]
    codes_port: int

    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=CLIENT_IP, verify=self.ca)
        return httpx.Client(base_url=self.base, transport=transport, timeout=30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("deploy-e2e")
    dirs = {name: root / name for name in ("var", "media", "log", "nginx-log", "acme", "nginx")}
    for path in dirs.values():
        path.mkdir()
    cert, key = make_cert(root / "tls")
    api_port, http_port, https_port, codes_port = free_port(), free_port(), free_port(), free_port()
    rendered = render(
        root / "rendered",
        CERT=str(cert),
        KEY=str(key),
        VAR_DIR=str(dirs["var"]),
        MEDIA_DIR=str(dirs["media"]),
        LOG_DIR=str(dirs["log"]),
        NGINX_LOG_DIR=str(dirs["nginx-log"]),
        ACME_ROOT=str(dirs["acme"]),
        SNIPPETS=str(root / "rendered" / "nginx"),
        LISTEN_V4="127.0.0.1",
        LISTEN_V6="::1",
        HTTP_PORT=str(http_port),
        HTTPS_PORT=str(https_port),
        API_PORT=str(api_port),
        CODES_PORT=str(codes_port),
    )
    if not has_ipv6_loopback():
        drop_ipv6_listens(rendered / "nginx" / "leadinc.conf")
    llm = OpenAIStandIn().start()
    # The offline model answers all at once, which cannot show whether a proxy buffers a stream:
    # this model streams its reply in ~20 chunks 0.1 s apart.
    llm.default = text({"scenario": "OFFTOPIC", "action": "answer", "reply": REPLY, "fields": {}})
    llm.default.chunk_delay = 0.1
    fixtures = ROOT_DIR / "tests" / "knowledge" / "fixtures"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "PYTHONUNBUFFERED": "1",
        "ENVIRONMENT": "production",
        "SECRET": "deploy-test-secret-0123456789abcdefghijklmnop",
        "SECRET_ADMIN_TOKEN": "deploy-test-admin-token-0123456789",
        "VAR_DIR": str(dirs["var"]),
        "MEDIA_DIR": str(dirs["media"]),
        "ERROR_JOURNAL_PATH": str(dirs["log"] / "error_journal.jsonl"),
        "FAQ_CORPUS_DIR": str(fixtures / "faq"),
        "ANALYTICS_CORPUS_DIR": str(fixtures / "analytics"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUSTED_PROXIES": "127.0.0.1",
        "CSRF_ENABLED": "true",
        "CELERY_EAGER": "true",
        "OPENAI_API_KEY": "sk-deploy-test",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_MAX_RETRIES": "0",
        "OPENAI_TIMEOUT_SECONDS": "20",
        "WEB_CONCURRENCY": "2",
        "ANONYMIZED_TELEMETRY": "False",
    }
    app: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None
    app_log = root / "app.log"
    try:
        prepared = subprocess.run(
            [sys.executable, "-c", PREPARE], cwd=ROOT_DIR, env=env, capture_output=True, text=True, timeout=300
        )
        assert prepared.returncode == 0, prepared.stderr[-4000:]
        env["REDIS_URL"] = prepared.stdout.strip().splitlines()[-1]
        argv, workdir = unit_exec_start(rendered / "systemd" / "leadinc-api.service", env)
        app = spawn(argv, app_log, cwd=workdir, env=env)
        wait_for_port(api_port, app, app_log, timeout=120)
        _wait_healthy(f"http://127.0.0.1:{api_port}/health", app, app_log)

        conf = nginx_conf(dirs["nginx"], rendered / "nginx" / "leadinc.conf")
        checked = nginx_test(dirs["nginx"], conf)
        assert checked.returncode == 0, checked.stderr
        nginx_log = dirs["nginx"] / "nginx.out"
        nginx = spawn([NGINX, "-p", f"{dirs['nginx']}/", "-c", str(conf)], nginx_log)
        wait_for_port(https_port, nginx, nginx_log, timeout=15)
        yield Stack(
            base=f"https://127.0.0.1:{https_port}",
            http_base=f"http://127.0.0.1:{http_port}",
            https_port=https_port,
            ca=ssl.create_default_context(cafile=str(cert)),
            redis_url=env["REDIS_URL"],
            media_dir=dirs["media"],
            app_log=app_log,
            rendered=rendered,
            env=env,
            codes_port=codes_port,
        )
    finally:
        if nginx is not None:
            stop(nginx, signal.SIGQUIT, timeout=10)  # graceful nginx shutdown
        if app is not None:
            stop(app, signal.SIGTERM, timeout=40)
        _stop_embedded_redis(dirs["var"] / "redis" / "redis.pid")
        llm.stop()


def _wait_healthy(url: str, app: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise AssertionError(f"the app exited with {app.returncode}:\n{tail(log)}")
        with suppress(httpx.HTTPError):
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        time.sleep(0.3)
    raise AssertionError(f"/health never answered 200 ({last}):\n{tail(log)}")


def _stop_embedded_redis(pidfile: Path) -> None:
    """The embedded redis-server daemonizes; it is ours (started by the prepare step) and has a pidfile."""
    with suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _csrf_headers(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies["csrftoken"]}


def test_health_and_security_headers_over_https(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    headers = response.headers
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert "media-src 'self' blob:" in headers["content-security-policy"]
    assert "microphone=(self)" in headers["permissions-policy"]
    assert len(headers["x-request-id"]) == 32  # nginx's $request_id, taken over by the app
    assert "nginx/" not in headers.get("server", "")


def test_http_redirects_to_https(stack: Stack) -> None:
    response = httpx.get(f"{stack.http_base}/health?probe=1", follow_redirects=False, timeout=10)
    assert response.status_code in (301, 308)
    assert response.headers["location"] == f"https://127.0.0.1:{stack.https_port}/health?probe=1"


def test_chat_page_static_files_and_media_come_from_disk(stack: Stack) -> None:
    day_dir = stack.media_dir / "audio" / "2025-01-31"
    day_dir.mkdir(parents=True, exist_ok=True)
    (day_dir / ("a" * 32 + ".mp3")).write_bytes(b"ID3 fake mp3")
    (stack.media_dir / "uploads").mkdir(exist_ok=True)
    (stack.media_dir / "uploads" / ("b" * 32 + ".webm")).write_bytes(b"private upload")
    with stack.client() as client:
        page = client.get("/")
        script = client.get("/static/chat.js")
        audio = client.get(f"/media/audio/2025-01-31/{'a' * 32}.mp3")
        upload = client.get(f"/media/uploads/{'b' * 32}.webm")
        not_here = client.get(f"/media/audio/2025-01-31/{'c' * 32}.mp3")  # s3 mode: the app redirects
        missing = client.get("/nothing-here")
        metrics = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/chat.js"' in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.content == b"ID3 fake mp3"
    assert upload.status_code == 404  # uploads are never served
    assert not_here.status_code == 404 and not_here.json()["error_code"] == "NOT_FOUND"  # asked of the app
    assert missing.status_code == 404 and missing.json()["error_code"] == "NOT_FOUND"
    assert metrics.status_code == 404  # the app's /metrics is for the host (or a token), not proxied


def test_chat_turn_with_csrf_and_the_real_client_ip(stack: Stack) -> None:
    with stack.client() as client:
        session = client.get("/auth/session")
        assert session.status_code == 200, session.text
        set_cookie = " ".join(session.headers.get_list("set-cookie")).lower()
        assert "sessionid=" in set_cookie and "secure" in set_cookie and "httponly" in set_cookie
        refused = client.post("/ai/chat", json={"message": "Как дела?"})
        assert refused.status_code == 403 and refused.json()["error_code"] == "CSRF_FAILED"
        # A client cannot choose its own IP: nginx overwrites X-Forwarded-For with the peer address.
        response = client.post(
            "/ai/chat",
            json={"message": "Как дела?"},
            headers=_csrf_headers(client) | {"X-Forwarded-For": SPOOFED_IP, "X-Real-IP": SPOOFED_IP},
        )
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["scenario"] == "OFFTOPIC" and reply["reply"] == REPLY
    # The per-IP rate limits are keyed by the client IP the app derived (backend/core/client_ip.py).
    client_redis = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        keys = list(client_redis.scan_iter(match="*burst-ip*", count=1000))
    finally:
        client_redis.close()
    assert keys, "no per-IP rate-limit key was written"
    assert all(f"/{CLIENT_IP}/" in key for key in keys), keys
    assert not any(SPOOFED_IP in key for key in keys), keys


def test_stream_arrives_unbuffered(stack: Stack) -> None:
    """Chunks are timestamped as they arrive: the first ``delta`` must come well before the final
    ``message`` (the model pauses ~0.1 s between chunks, ~1.5 s in all). A buffering proxy would
    deliver everything together at the end."""
    arrivals: list[tuple[float, str]] = []  # (seconds since request, event name)
    with stack.client() as client:
        client.get("/auth/session")
        started = time.monotonic()
        with client.stream(
            "POST", "/ai/chat/stream", json={"message": "Привет, как погода?"}, headers=_csrf_headers(client)
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers.get("x-accel-buffering") == "no"
            buffer = ""
            for chunk in response.iter_text():
                now = time.monotonic() - started
                buffer = (buffer + chunk).replace("\r\n", "\n")  # sse-starlette ends lines with CRLF
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(":", 1) for line in block.split("\n") if ":" in line)
                    event = fields.get("event", "").strip()
                    if event:
                        arrivals.append((now, event))
                    if event == "message":
                        assert json.loads(fields["data"])["reply"] == REPLY
        ended = time.monotonic() - started
    kinds = [kind for _, kind in arrivals]
    assert kinds.count("message") == 1 and kinds[-1] == "message", kinds
    assert kinds.count("delta") >= 3, kinds
    first_delta = next(at for at, kind in arrivals if kind == "delta")
    message = next(at for at, kind in arrivals if kind == "message")
    assert message - first_delta >= 0.6, arrivals
    assert ended - first_delta >= 0.6, arrivals
    distinct_times = {round(at, 2) for at, kind in arrivals if kind == "delta"}
    assert len(distinct_times) >= 3, arrivals  # deltas trickle in, they are not one burst


def test_body_limits_match_the_app(stack: Stack) -> None:
    limit = upload_body_limit(Settings(_env_file=None))  # type: ignore[call-arg]
    with stack.client() as client:
        client.get("/auth/session")
        headers = _csrf_headers(client) | {"Content-Type": "application/octet-stream"}
        too_big = client.post("/ai/voice_upload", content=b"\0" * (limit + 1), headers=headers)
        at_limit = client.post("/ai/voice_upload", content=b"\0" * limit, headers=headers)
        chat_too_big = client.post("/ai/chat", content=b"{" + b" " * (1024 * 1024), headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert at_limit.status_code != 413, at_limit.text  # nginx let it through; the app judged it
    assert at_limit.headers.get("x-request-id")
    assert chat_too_big.status_code == 413 and chat_too_big.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_codes_service_unit_starts_and_shares_redis(stack: Stack, tmp_path: Path) -> None:
    """leadinc-codes.service's command line serves the one-time-code API on its own port."""
    argv, workdir = unit_exec_start(stack.rendered / "systemd" / "leadinc-codes.service", stack.env)
    log = tmp_path / "codes.log"
    codes = spawn(argv, log, cwd=workdir, env=stack.env)
    try:
        wait_for_port(stack.codes_port, codes, log, timeout=60)
        base = f"http://127.0.0.1:{stack.codes_port}"
        issued = httpx.post(
            f"{base}/api/generate-code",
            json={"contact": "ops@example.com"},
            headers={"X-Admin-Token": stack.env["SECRET_ADMIN_TOKEN"]},
            timeout=10,
        )
        assert issued.status_code == 200, issued.text
        code = issued.json()["code"]
        other = "000000" if code != "000000" else "111111"
        wrong = httpx.post(f"{base}/api/verify-code", json={"contact": "ops@example.com", "code": other}, timeout=10)
        assert wrong.status_code == 400 and wrong.json()["error_code"] == "CODE_INVALID"
    finally:
        stop(codes, signal.SIGTERM, timeout=20)
    # the code issued by the codes service is verified by the main API: one Redis, one SECRET
    with stack.client() as client:
        verified = client.post("/api/verify-code", json={"contact": "ops@example.com", "code": code})
    assert verified.status_code == 200, verified.text


def test_api_docs_get_their_own_csp(stack: Stack) -> None:
    with stack.client() as client:
        docs = client.get("/docs")
        schema = client.get("/openapi.json")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "cross-origin-embedder-policy" not in docs.headers  # the CDN bundle could not load under COEP
    assert docs.headers["x-frame-options"] == "DENY"  # the shared headers are still there
    assert schema.status_code == 200 and "/ai/chat/stream" in schema.json()["paths"]


def test_chat_page_works_in_a_browser_under_the_headers(stack: Stack) -> None:
    """Headless Chromium through nginx: the CSP lets the page run (no violations), COOP+COEP make it
    cross-origin isolated, and a typed message gets the streamed reply."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            context = chromium.new_context(base_url=stack.base, ignore_https_errors=True, locale="ru-RU")
            page = context.new_page()
            page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
            page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
            page.goto("/")
            expect(page.locator("#account-status")).to_have_text("Гость", timeout=20_000)
            assert page.evaluate("window.crossOriginIsolated") is True
            box = page.locator("#message")
            box.fill("Как дела?")
            box.press("Enter")
            expect(page.locator("#log")).to_contain_text(REPLY[:40], timeout=30_000)
            context.close()
        finally:
            chromium.close()
    violations = [p for p in problems if "Content Security Policy" in p or "Refused to" in p or "pageerror" in p]
    assert violations == [], problems
