"""Offline transcription with ``faster-whisper`` from a model directory (``WHISPER_MODEL_DIR``).

The model is never downloaded: the directory must already hold a CTranslate2 Whisper model
(``model.bin``, ``config.json``, tokenizer). ``faster-whisper`` is an optional package
(``pip install faster-whisper``); without it, or without the model, the error says exactly that.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from backend.voice.exceptions import PermanentProviderError, ProviderNotConfigured
from backend.voice.stt.base import Transcript


class LocalWhisperTranscriber:
    name = "local"

    def __init__(self, model_dir: Path | None, *, compute_type: str = "int8") -> None:
        if model_dir is None:
            raise ProviderNotConfigured(
                "STT_PROVIDER=local требует WHISPER_MODEL_DIR — каталог с моделью faster-whisper."
            )
        if not (model_dir / "model.bin").is_file():
            raise ProviderNotConfigured(
                f"В WHISPER_MODEL_DIR={model_dir} нет модели faster-whisper (model.bin); модель не скачивается "
                "автоматически — положите её туда заранее."
            )
        self.model_dir = model_dir
        self._compute_type = compute_type
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                module = importlib.import_module("faster_whisper")
            except ImportError as exc:
                raise ProviderNotConfigured(
                    "STT_PROVIDER=local требует пакет faster-whisper: pip install faster-whisper."
                ) from exc
            self._model = module.WhisperModel(
                str(self.model_dir), device="cpu", compute_type=self._compute_type, local_files_only=True
            )
        return self._model

    def transcribe(self, path: Path, language: str) -> Transcript:
        model = self._load()
        try:
            segments, _info = model.transcribe(str(path), language=language, beam_size=1, vad_filter=True)
            text = " ".join(segment.text.strip() for segment in segments)
        except (RuntimeError, ValueError, OSError) as exc:
            raise PermanentProviderError(f"Локальная модель не смогла распознать запись: {exc}") from exc
        return Transcript(text=text.strip(), provider=self.name, language=language)
