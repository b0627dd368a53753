from __future__ import annotations

from pathlib import Path

from backend.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable


class CorpusError(Unprocessable):
    """A malformed corpus record, reported with file and line."""

    error_code = "CORPUS_INVALID"

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}")


class ArticleNotFound(NotFound):
    error_code = "ARTICLE_NOT_FOUND"
    default_detail = "Статья не найдена."


class IndexMissing(ServiceUnavailable):
    error_code = "INDEX_MISSING"
    default_detail = "Индекс базы знаний ещё не построен: запустите `python -m scripts.reindex index`."


class IndexMismatch(Conflict):
    error_code = "INDEX_MODEL_MISMATCH"
