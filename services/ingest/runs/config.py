"""Feed configuration: a TOML file of `[[feed]]` tables (name, kind, url, format, schedule)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from croniter import croniter
from pydantic import BaseModel, Field, ValidationError, field_validator

from shared.errors import InvalidInput

FeedKind = Literal[
    "spot_check", "food_spot_check", "serious_illegal", "abnormal_operation", "licence_status", "accident"
]


FEED_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class FeedConfig(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=FEED_NAME)
    kind: FeedKind
    url: str
    format: Literal["xlsx", "csv", "json", "auto"] = "auto"
    schedule: str = Field(default="0 2 * * *", description="cron, in the scheduler's time zone; nightly by default")
    snapshot: bool = Field(default=False, description="a full snapshot, diffed against the previous one")
    enabled: bool = True
    max_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    publisher: str | None = Field(
        default=None,
        max_length=100,
        description="the authority that publishes this feed (e.g. 湘潭市市场监督管理局): the bulletin's authority "
        "and, when the file does not say, the level of its checks",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value


class FeedsFile(BaseModel):
    feed: list[FeedConfig] = Field(default_factory=list)


def load_feeds(path: Path) -> list[FeedConfig]:
    """Read and validate the feeds file; a problem names the file and the field."""
    if not path.exists():
        return []
    try:
        feeds = FeedsFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))).feed
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        raise InvalidInput(f"{path}: feed names must be unique")
    return feeds
