"""The operators' indexer as operators run it: ``python -m scripts.reindex check|index|search``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from knowledge.support import DEMO_ANALYTICS_DIR, DEMO_FAQ_DIR, FAQ_A, NICHE_A, write

from backend.core.config import ROOT_DIR, Settings


def reindex(*args: str | Path, var: Path, **env: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ENVIRONMENT": "test",
        "VAR_DIR": str(var),
        "KNOWLEDGE_DIR": str(var / "knowledge"),
        "CHROMA_DIR": str(var / "chroma"),
        "CHROMA_HOST": "",
        "EMBEDDINGS_PROVIDER": "local",
        "FAQ_CORPUS_DIR": str(DEMO_FAQ_DIR),
        "ANALYTICS_CORPUS_DIR": str(DEMO_ANALYTICS_DIR),
        **{key: str(value) for key, value in env.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "scripts.reindex", *map(str, args)],
        cwd=ROOT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


def small_corpus(root: Path) -> tuple[Path, Path]:
    faq = root / "my_faq"
    write(faq / "a.md", FAQ_A)
    write(faq / "sub" / "b.md", FAQ_A.replace('"1"', '"2"').replace("Как вернуть деньги", "Как удалить аккаунт"))
    analytics = root / "my_niches"
    write(
        analytics / "n.md",
        NICHE_A + NICHE_A.replace("Натяжные потолки", "Пластиковые окна").replace("потолки]", "окна]"),
    )
    return faq, analytics


def test_check_demo_corpora(tmp_path: Path) -> None:
    result = reindex("check", var=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"ok: 32 FAQ articles in {DEMO_FAQ_DIR}, 449 niches in {DEMO_ANALYTICS_DIR}" in result.stdout
    assert not (tmp_path / "knowledge").exists()  # check never writes


def test_index_and_search_demo_corpora(tmp_path: Path, demo_settings: Settings) -> None:
    # Start from the demo index's embedding cache: the CLI run then embeds nothing new.
    shutil.copytree(demo_settings.knowledge_dir / "embedding_cache", tmp_path / "knowledge" / "embedding_cache")
    result = reindex("index", var=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "32 FAQ articles, 449 niches" in result.stdout and "0 texts embedded" in result.stdout
    again = reindex("index", var=tmp_path)
    assert again.returncode == 0 and "no changes" in again.stdout

    found = reindex("search", "faq", "как вернуть деньги", "-n", "3", var=tmp_path)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].split()[1] == "122"
    niche = reindex("search", "analytics", "по стоматологиям", var=tmp_path)
    assert niche.returncode == 0 and "resolved (exact): Стоматологические клиники" in niche.stdout


def test_index_any_corpus_directory_given_on_the_command_line(tmp_path: Path) -> None:
    faq, analytics = small_corpus(tmp_path)
    checked = reindex("check", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path)
    assert checked.returncode == 0 and "ok: 2 FAQ articles" in checked.stdout and "2 niches" in checked.stdout
    built = reindex("index", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "2 FAQ articles, 2 niches; records new 4, changed 0, removed 0" in built.stdout
    found = reindex("search", "faq", "удалить аккаунт", "-n", "1", var=tmp_path)
    assert found.stdout.split()[1] == "2"
    niche = reindex("search", "analytics", "окна", var=tmp_path)
    assert "Пластиковые окна" in niche.stdout
    forced = reindex("index", "--faq-dir", faq, "--analytics-dir", analytics, "--force", var=tmp_path)
    assert forced.returncode == 0 and "0 texts embedded" in forced.stdout


def test_malformed_corpus_exits_nonzero_and_leaves_the_live_index(tmp_path: Path) -> None:
    faq, analytics = small_corpus(tmp_path)
    assert reindex("index", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path).returncode == 0
    current = tmp_path / "knowledge" / "current.json"
    manifest, generations = current.read_text("utf-8"), sorted((tmp_path / "knowledge" / "generations").iterdir())

    broken = write(faq / "sub" / "c.md", FAQ_A)  # a second article "1"
    checked = reindex("check", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path)
    assert checked.returncode == 1 and checked.stdout == ""
    assert f"error: {broken}:1: duplicate article_id '1'" in checked.stderr

    built = reindex("index", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path)
    assert built.returncode == 1 and f"{broken}:1" in built.stderr
    broken.unlink()
    write(analytics / "bad.md", "---\nniche: Окна ПВХ\n---\nБез таблицы.\n")
    built = reindex("index", "--faq-dir", faq, "--analytics-dir", analytics, var=tmp_path)
    assert built.returncode == 1 and "bad.md:1: a niche must have exactly one pipe table" in built.stderr

    assert current.read_text("utf-8") == manifest
    assert sorted((tmp_path / "knowledge" / "generations").iterdir()) == generations
    still = reindex("search", "faq", "вернуть деньги", "-n", "1", var=tmp_path)
    assert still.returncode == 0 and still.stdout.split()[1] == "1"


def test_missing_corpus_directory_is_an_error(tmp_path: Path) -> None:
    result = reindex("check", "--faq-dir", tmp_path / "nope", var=tmp_path)
    assert result.returncode == 1 and "corpus directory not found" in result.stderr
