"""JSON Schema snapshots of every topic's envelope: a committed file per topic version.

A snapshot is never rewritten: changing a model means publishing a new topic version (`vN+1`),
which gets a snapshot of its own. `write_missing` adds snapshots for new topics only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.envelope import Envelope
from shared.contracts.topics import PAYLOADS, Topic

SNAPSHOT_DIR = Path(__file__).parent / "schemas"


def schema_of(topic: Topic) -> dict[str, Any]:
    model: Any = Envelope[PAYLOADS[topic]]  # type: ignore[valid-type]
    return dict(model.model_json_schema())


def snapshot_path(topic: Topic) -> Path:
    return SNAPSHOT_DIR / f"{topic.value}.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_missing() -> list[Path]:
    """Write snapshots for topics that have none; existing snapshots are left as they are."""
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    written = []
    for topic in Topic:
        path = snapshot_path(topic)
        if not path.exists():
            path.write_text(render(schema_of(topic)), encoding="utf-8")
            written.append(path)
    return written
