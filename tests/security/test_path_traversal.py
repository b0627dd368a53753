"""Path traversal: the ``read_file`` tool serves only the allowlisted scenario files, and
``/media/audio/<day>/<name>`` serves only produced audio inside MEDIA_DIR — encoded ``../``,
absolute paths and symlinks pointing out of the directory are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.assistant.tools.read_file import PromptFileCache, ReadFileArgs, ReadFileTool
from backend.core.config import ROOT_DIR, Settings
from helpers import client_for, derive_settings

SCENARIO_DIR = ROOT_DIR / "scenario"
NAME = "A" * 32 + ".mp3"  # a valid produced-audio name
DAY = "2024-01-02"

TOOL_PATHS = [
    "../backend/.env.backend",
    "../../etc/passwd",
    "scenario/../scenario/scenario_faq.md",
    "scenario/../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2fscenario_faq.md",
    "/etc/passwd",
    str(SCENARIO_DIR / "scenario_faq.md"),  # absolute, even to an allowed file
    "scenario\\..\\..\\etc\\passwd",
    "scenario_faq.md/../../etc/passwd",
    "scenario_faq.md\x00.txt",
    "~/scenario_faq.md",
    "file:///etc/passwd",
    "system.md",  # in the directory but not on the allowlist
    "scenario/system.md",
]


@pytest.mark.parametrize("requested", TOOL_PATHS)
async def test_read_file_refuses(requested: str) -> None:
    tool = ReadFileTool(PromptFileCache(SCENARIO_DIR))
    result = await tool.run(ReadFileArgs(path=requested), None)  # type: ignore[arg-type]
    assert result == {"error": "access denied: only scenario/*.md instruction files can be read"}


async def test_read_file_refuses_a_symlink_out_of_the_directory(tmp_path: Path) -> None:
    prompts = tmp_path / "scenario"
    prompts.mkdir()
    (prompts / "scenario_faq.md").symlink_to("/etc/passwd")
    outside = tmp_path / "outside.md"
    outside.write_text("секрет", encoding="utf-8")
    (prompts / "scenario_offtopic.md").symlink_to(outside)
    cache = PromptFileCache(prompts)
    assert cache.read("scenario_faq.md") is None and cache.read("scenario/scenario_offtopic.md") is None
    allowed = PromptFileCache(SCENARIO_DIR).read("scenario/scenario_faq.md")
    assert allowed and "Сценарий FAQ" in allowed


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "media"
    (root / "audio" / DAY).mkdir(parents=True)
    (root / "audio" / DAY / NAME).write_bytes(b"ID3real-audio")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / NAME).write_bytes(b"secret-outside")
    (root / "audio" / "2024-01-03").symlink_to(outside, target_is_directory=True)  # a day dir leading out
    (root / "audio" / DAY / ("B" * 32 + ".mp3")).symlink_to(outside / NAME)  # a file leading out
    (root / "audio" / DAY / ("C" * 32 + ".mp3")).symlink_to("/etc/passwd")
    (root / "uploads" / DAY).mkdir(parents=True)
    (root / "uploads" / DAY / NAME).write_bytes(b"private-upload")
    return {"root": root, "outside": outside}


MEDIA_PATHS = [
    f"/media/audio/{DAY}/..%2F..%2Fuploads%2F{DAY}%2F{NAME}",
    f"/media/audio/..%2Fuploads%2F{DAY}/{NAME}",
    f"/media/audio/%2e%2e/uploads/{NAME}",
    f"/media/audio/{DAY}/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    f"/media/audio/{DAY}/%252e%252e%252fetc%252fpasswd",
    "/media/audio/%2Fetc/passwd",
    "/media/audio/2024-01-02/%2Fetc%2Fpasswd",
    "/media//etc/passwd",
    f"/media/uploads/{DAY}/{NAME}",
    f"/media/audio/2024-01-03/{NAME}",  # through the symlinked day directory
    f"/media/audio/{DAY}/{'B' * 32}.mp3",
    f"/media/audio/{DAY}/{'C' * 32}.mp3",
    f"/media/audio/{DAY}/{NAME}%00.txt",
    f"/media/audio/{DAY}\\..\\..\\uploads/{NAME}",
]


async def test_media_serves_only_produced_audio(
    settings: Settings, tmp_path: Path, app_factory: Any, media: dict[str, Path]
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, MEDIA_DIR=media["root"]))
    async with client_for(app) as http:
        served = await http.get(f"/media/audio/{DAY}/{NAME}")
        assert served.status_code == 200 and served.content == b"ID3real-audio"
        for raw in MEDIA_PATHS:
            response = await http.send(http.build_request("GET", httpx.URL(raw)))
            assert response.status_code in (404, 400), (raw, response.status_code)
            assert response.content not in (b"secret-outside", b"private-upload")
            assert b"root:" not in response.content
