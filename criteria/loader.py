"""Loading criteria-set documents from YAML or JSON files, and the bundled sets."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from criteria.document import parse_document
from criteria.schema import CriteriaDocument

__all__ = ["REFERENCE_SET", "SETS_DIR", "bundled_sets", "load_document_file", "load_set"]

SETS_DIR: Path = Path(__file__).resolve().parent / "sets"
REFERENCE_SET: Path = SETS_DIR / "ttm-reference.yaml"
_YAML_SUFFIXES = {".yaml", ".yml"}


def load_document_file(path: str | Path) -> dict[str, Any]:
    """Read a criteria document (YAML or JSON, chosen by suffix, UTF-8) as a mapping."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    suffix = file.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        data = yaml.safe_load(text)
    elif suffix == ".json":
        data = json.loads(text, parse_float=Decimal)
    else:
        raise ValueError(f"{file}: expected a .yaml, .yml or .json file")
    if not isinstance(data, dict):
        raise ValueError(f"{file}: the document must be a mapping at the top level")
    return data


def load_set(path: str | Path) -> CriteriaDocument:
    """Load and validate a criteria-set file; raise DocumentInvalid when it is refused."""
    return parse_document(load_document_file(path))


def bundled_sets() -> list[Path]:
    """Return the criteria-set YAML files shipped in `criteria/sets`, sorted."""
    return sorted(SETS_DIR.glob("*.yaml"))
