"""Where an index generation lives on disk, and the manifest that names the live one.

``VAR_DIR/knowledge/current.json`` points at the live generation; switching is one ``os.replace``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.core.config import Settings

# Bump when what is indexed for a record changes (text units, lexical tokens) without the corpus
# changing: a reindex then rebuilds instead of reporting "no changes". Manifests before it say 1.
INDEX_FORMAT = 2


@dataclass
class Manifest:
    generation: str
    model_id: str
    faq_collection: str
    analytics_collection: str
    created_at: str
    counts: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # record key -> content hash
    index_format: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class IndexPaths:
    root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexPaths:
        return cls(settings.knowledge_dir)

    @property
    def current(self) -> Path:
        return self.root / "current.json"

    @property
    def cache(self) -> Path:
        return self.root / "embedding_cache"

    def generation(self, name: str) -> Path:
        return self.root / "generations" / name

    def read_manifest(self) -> Manifest | None:
        try:
            data: dict[str, Any] = json.loads(self.current.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Manifest(**data)

    def switch(self, manifest: Manifest) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.current.with_suffix(".json.tmp")
        tmp.write_text(manifest.to_json(), encoding="utf-8")
        os.replace(tmp, self.current)
