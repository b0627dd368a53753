"""The offline product does not load the OpenAI SDK: about 13 MiB of every API worker's and Celery
worker's memory, against the API worker's 400 MiB budget (BENCHMARKS.md, "Turn cost"). The providers
that use it import it when they are configured."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from backend.core.config import ROOT_DIR

SCRIPT = textwrap.dedent(
    """
    import sys

    import backend.main, backend.runtime, backend.worker
    from backend.assistant.factory import build_model
    from backend.core.config import Settings
    from backend.knowledge.embeddings import build_embedder
    from backend.voice.tts.factory import build_tts

    settings = Settings(_env_file=None)
    offline = object()
    assert build_model(settings, offline) is offline  # type: ignore[arg-type]
    build_embedder(settings)
    build_tts(settings)
    print(sorted(m for m in sys.modules if m == "openai" or m.startswith("openai.")))
    """
)


def test_the_offline_product_does_not_import_the_openai_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-2000:]


def test_a_configured_model_brings_the_sdk() -> None:
    script = (
        "from backend.assistant.factory import build_model\n"
        "from backend.core.config import Settings\n"
        "model = build_model(Settings(_env_file=None, OPENAI_BASE_URL='http://127.0.0.1:9/v1'), object())\n"
        "print(type(model).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "OpenAIChatModel"
