"""What the rules service's routes are handed (its wiring, main.py, provides each at start)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.rules.matcher.thread import LiveMatcher
from shared.dependencies import provided
from shared.jobs import Jobs

Live = Annotated[LiveMatcher, Depends(provided("live_index"))]  # the matcher's index, on its own thread
ImportJobs = Annotated[Jobs, Depends(provided("jobs"))]  # registry imports, one at a time
