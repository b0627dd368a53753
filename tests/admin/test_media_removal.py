"""Erasure deletes an account's stored audio by the paths its rows name, and nothing else: a path
leading out of MEDIA_DIR, a symlink (inside or out) or a directory is left alone."""

from __future__ import annotations

from pathlib import Path

from backend.voice.media.local import LocalMediaStorage


def test_remove_deletes_only_regular_files_inside_the_media_directory(tmp_path: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "precious.txt"
    (media / "audio" / "2026-11-30").mkdir(parents=True)
    outside.write_text("not ours")
    storage = LocalMediaStorage(media, "/media")

    mine = media / "audio" / "2026-11-30" / "a.mp3"
    mine.write_bytes(b"ID3")
    assert storage.remove("audio/2026-11-30/a.mp3") is True and not mine.exists()
    assert storage.remove("audio/2026-11-30/a.mp3") is False  # already gone: counted as missing

    (media / "audio" / "2026-11-30" / "link.mp3").symlink_to(outside)
    inner_target = media / "audio" / "2026-11-30" / "b.mp3"
    inner_target.write_bytes(b"ID3")
    (media / "audio" / "2026-11-30" / "inner-link.mp3").symlink_to(inner_target)
    for relative in ("../precious.txt", "audio/2026-11-30/link.mp3", "audio/2026-11-30/inner-link.mp3", "audio"):
        assert storage.remove(relative) is False, relative
    assert outside.read_text() == "not ours" and inner_target.exists()
    assert (media / "audio" / "2026-11-30" / "link.mp3").is_symlink()
