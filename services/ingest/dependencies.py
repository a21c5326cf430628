"""What ingest's routes are handed (its wiring, main.py, provides each at start)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.ingest.runs.config import FeedConfig
from services.ingest.runs.service import FeedRunner
from services.ingest.settings import IngestSettings
from shared.dependencies import provided
from shared.jobs import Jobs

Feeds = Annotated[list[FeedConfig], Depends(provided("feeds"))]
Runner = Annotated[FeedRunner, Depends(provided("feed_runner"))]
UploadJobs = Annotated[Jobs, Depends(provided("jobs"))]
Settings = Annotated[IngestSettings, Depends(provided("settings"))]
