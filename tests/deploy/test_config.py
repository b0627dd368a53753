"""The deployment templates are valid: nginx -t on the rendered site, systemd-analyze verify on every
unit, and the production env example speaks the real setting names."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from deploy.support import (
    DEPLOY_DIR,
    PLACEHOLDER,
    VENV,
    free_port,
    make_cert,
    nginx_conf,
    nginx_test,
    render,
    spawn,
    stop,
    unit_exec_start,
    wait_for_port,
)

from backend.core.celery import worker_argv
from backend.core.config import ROOT_DIR, Settings
from backend.voice.service import upload_body_limit

UNITS = sorted(p.name for p in (DEPLOY_DIR / "systemd").iterdir() if p.suffix in {".service", ".timer"})
EXPECTED_UNITS = {
    "leadinc-api.service",
    "leadinc-worker-text.service",
    "leadinc-worker-audio.service",
    "leadinc-beat.service",
    "leadinc-chroma.service",
    "leadinc-codes.service",
    "leadinc-cleanup-audio.service",
    "leadinc-cleanup-audio.timer",
}


def _rendered(tmp_path: Path) -> Path:
    cert, key = make_cert(tmp_path / "tls")
    for sub in ("var", "media", "log", "nginx-log", "acme"):
        (tmp_path / sub).mkdir()
    return render(
        tmp_path / "rendered",
        CERT=str(cert),
        KEY=str(key),
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_DIR=str(tmp_path / "media"),
        LOG_DIR=str(tmp_path / "log"),
        NGINX_LOG_DIR=str(tmp_path / "nginx-log"),
        ACME_ROOT=str(tmp_path / "acme"),
        SNIPPETS=str(tmp_path / "rendered" / "nginx"),
        LISTEN_V4="127.0.0.1",
        LISTEN_V6="::1",
        HTTP_PORT="18080",
        HTTPS_PORT="18443",
    )


def test_every_unit_is_shipped() -> None:
    assert set(UNITS) == EXPECTED_UNITS


@pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="nginx is installed by scripts/test.sh")
def test_nginx_accepts_the_rendered_site(tmp_path: Path) -> None:
    rendered = _rendered(tmp_path)
    site = rendered / "nginx" / "leadinc.conf"
    text = site.read_text(encoding="utf-8")
    assert not PLACEHOLDER.search(text)
    # the redirect keeps the non-standard test port; the upload cap is the app's own
    assert "return 301 https://$host:18443$request_uri;" in text
    assert f"client_max_body_size {upload_body_limit(Settings(_env_file=None))};" in text  # type: ignore[call-arg]
    result = nginx_test(tmp_path / "nginx", nginx_conf(tmp_path / "nginx", site))
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_production_defaults_need_no_port_suffix(tmp_path: Path) -> None:
    site = (render(tmp_path / "prod", CERT="/c.pem", KEY="/k.pem") / "nginx" / "leadinc.conf").read_text()
    assert "return 301 https://$host$request_uri;" in site
    assert "listen 0.0.0.0:443 ssl http2;" in site and "listen [::]:80;" in site
    assert "server 127.0.0.1:8000;" in site
    unit = (tmp_path / "prod" / "systemd" / "leadinc-api.service").read_text()
    assert "--port 8000" in unit and "ReadWritePaths=/var/lib/leadinc /var/lib/leadinc/media /var/log/leadinc" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify_without_findings(tmp_path: Path) -> None:
    """``systemd-analyze verify`` exits non-zero on hard errors (e.g. a missing ExecStart binary) and
    only *prints* soft ones (unknown keys, unparsable values: "ignoring"). Both fail this test.

    In this container (systemd 252, not PID 1) verify prints nothing for the rendered units: it
    does not resolve User=leadinc nor read the EnvironmentFile, so neither needs to exist here.
    """
    rendered = _rendered(tmp_path)
    units = [str(p) for p in sorted((rendered / "systemd").iterdir())]
    for path in units:
        text = Path(path).read_text(encoding="utf-8")
        assert not PLACEHOLDER.search(text), path
        for binary in re.findall(r"^ExecStart=(\S+)", text, re.MULTILINE):
            assert Path(binary).exists(), binary
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    findings = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert findings == [], findings


def test_units_share_the_hardening_and_the_env_file() -> None:
    for name in EXPECTED_UNITS - {"leadinc-cleanup-audio.timer"}:
        text = (DEPLOY_DIR / "systemd" / name).read_text(encoding="utf-8")
        for line in (
            "User=leadinc",
            "EnvironmentFile=/etc/leadinc/leadinc.env",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "ProtectKernelTunables=yes",
            "CapabilityBoundingSet=",
        ):
            assert f"\n{line}\n" in text, (name, line)
        assert "ReadWritePaths=@VAR_DIR@" in text, name
        restart = "Type=oneshot" if name == "leadinc-cleanup-audio.service" else "Restart=on-failure"
        assert restart in text, name
    text_worker = (DEPLOY_DIR / "systemd" / "leadinc-worker-text.service").read_text()
    audio_worker = (DEPLOY_DIR / "systemd" / "leadinc-worker-audio.service").read_text()
    assert "celery -A backend.worker worker -Q text -n text@%%h" in text_worker
    assert "celery -A backend.worker worker -Q audio -n audio@%%h" in audio_worker
    assert "--prefetch-multiplier 1" in audio_worker


def test_worker_units_run_the_projects_worker_command(tmp_path: Path) -> None:
    """The units' Celery command lines are backend.core.celery.worker_argv's (the embedded launcher's)."""
    rendered = render(tmp_path / "r", CERT="/c", KEY="/k")
    for queue, concurrency, prefetch in (("text", 2, 4), ("audio", 1, 1)):
        argv, workdir = unit_exec_start(rendered / "systemd" / f"leadinc-worker-{queue}.service", {})
        expected = worker_argv(queue, concurrency=concurrency, prefetch=prefetch)
        assert argv[0] == f"{VENV}/bin/celery" and argv[1:] == expected[3:], argv
        assert workdir == ROOT_DIR


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY_DIR / "leadinc.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key == key.strip() and " #" not in value, f"not systemd EnvironmentFile syntax: {line!r}"
            values[key] = value
    return values


def test_env_example_uses_real_setting_names_and_refuses_placeholder_secrets() -> None:
    values = _env_example()
    process_only = {"WEB_CONCURRENCY", "LEADINC_TEXT_CONCURRENCY", "LEADINC_AUDIO_CONCURRENCY", "ANONYMIZED_TELEMETRY"}
    unknown = set(values) - set(Settings.model_fields) - process_only
    assert unknown == set()
    assert values["ENVIRONMENT"] == "production" and values["DATABASE_URL"].startswith("postgresql://")
    with pytest.raises(ValueError, match="SECRET"):
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
    real = values | {"SECRET": "x" * 48, "SECRET_ADMIN_TOKEN": "y" * 32}
    settings = Settings(_env_file=None, **real)  # type: ignore[call-arg]
    assert settings.cookie_secure and settings.CSRF_ENABLED and settings.CHROMA_HOST == "127.0.0.1"
    assert settings.database_url_async.startswith("postgresql+asyncpg://")


def test_venv_has_the_commands_the_units_run() -> None:
    for command in ("uvicorn", "celery", "chroma", "python", "alembic"):
        assert (VENV / "bin" / command).exists(), command


def test_chroma_unit_serves_the_vector_store(tmp_path: Path) -> None:
    """leadinc-chroma.service's command line starts a Chroma server the app can use via CHROMA_HOST."""
    port = free_port()
    rendered = render(tmp_path / "r", CERT="/c", KEY="/k", VAR_DIR=str(tmp_path / "var"), CHROMA_PORT=str(port))
    (tmp_path / "var").mkdir()
    argv, workdir = unit_exec_start(rendered / "systemd" / "leadinc-chroma.service", {})
    log = tmp_path / "chroma.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "ANONYMIZED_TELEMETRY": "False"}
    chroma = spawn(argv, log, cwd=workdir, env=env)
    try:
        wait_for_port(port, chroma, log, timeout=60)
        beat = httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=10)
        assert beat.status_code == 200, beat.text
        assert (tmp_path / "var" / "chroma-server").is_dir()
    finally:
        stop(chroma, signal.SIGTERM, timeout=20)
