"""Validate edge-sdk's JSON documents against schemas/ (JSON Schema 2020-12), the contract release
pipelines parse: report.json, bench.json, plan files, `build --json` and `compare --json`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@lru_cache(maxsize=None)
def validator(name: str):
    """The validator of schemas/<name>.schema.json, its cross-file $refs resolved within schemas/."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    documents = [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json"))]
    registry = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in documents)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def problems(name: str, document: dict) -> list[str]:
    """Every way `document` breaks schemas/<name>.schema.json, as 'path: message' lines."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}"
            for e in sorted(validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]
