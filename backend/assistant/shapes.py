"""Reads knowledge results whatever their class (pydantic model, dataclass or dict)."""

from __future__ import annotations

import dataclasses
from typing import Any


def as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        dumped: dict[str, Any] = obj.model_dump()
        return dumped
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


def as_list(obj: Any) -> list[dict[str, Any]]:
    if obj is None:
        return []
    if isinstance(obj, list | tuple):
        return [as_dict(item) if not isinstance(item, str) else {"niche": item} for item in obj]
    data = as_dict(obj)
    for key in ("results", "articles", "items", "candidates", "titles"):
        if isinstance(data.get(key), list):
            return as_list(data[key])
    return [data]


def niche_names(obj: Any) -> list[str]:
    names = []
    for item in as_list(obj):
        name = item.get("niche") or item.get("title") or item.get("name")
        if name:
            names.append(str(name))
    return names
