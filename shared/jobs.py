"""Long jobs (a registry import, a large upload): an id, a status, progress and a result, kept in the
service's own `jobs` table, so `GET /jobs/{id}` answers from any replica.

A job runs in the background of the process that accepted it (its input, the uploaded file, is there),
at most `concurrency` at a time; the others wait as `queued`. While it runs, its progress is written
every `heartbeat` seconds, and that write is its sign of life: a job whose process died (kill -9, a
lost node) stops beating and is shown `interrupted` once `stale_after` seconds have passed, and so marked
when a process of the service starts. A job still running when its process stops is cancelled and
marked `interrupted`; what it had not committed is rolled back, so it can simply be submitted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, Text, Uuid, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.session import Database
from shared.errors import InvalidInput, NotFound
from shared.responses import errors

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "queued", "running", "succeeded", "failed", "interrupted"
UNFINISHED = (QUEUED, RUNNING)


def job_table(metadata: MetaData) -> Table:
    """The `jobs` table of one service (each service's migrations create it in its own schema)."""
    return Table(
        "jobs",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("kind", String(50), nullable=False),  # registry_import, file_upload, …
        Column("status", String(20), nullable=False),  # queued | running | succeeded | failed | interrupted
        Column("phase", String(50)),  # what it is doing now: reading, writing, …
        Column("done", BigInteger, nullable=False, server_default="0"),  # rows, organisations, … of the phase
        Column("total", BigInteger),  # of the phase, when known beforehand
        Column("detail", JSONB),  # what it was asked: file name, size, parameters
        Column("result", JSONB),  # its report, once finished
        Column("error", Text),
        Column("created_by", String(100)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),  # its heartbeat
    )


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: str
    phase: str | None
    done: int
    total: int | None
    detail: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass
class Progress:
    """What a job has done so far; its work updates it (from any thread), the heartbeat writes it."""

    phase: str = "starting"
    done: int = 0
    total: int | None = None

    def begin(self, phase: str, total: int | None = None) -> None:
        self.phase, self.done, self.total = phase, 0, total

    def advance(self, count: int = 1) -> None:
        self.done += count


class JobFailed(InvalidInput):
    """The job's input was refused as a whole: the job fails with this reason (a 422 for a caller that
    waits), and `result` (the failed run's report) is kept with it."""

    def __init__(
        self, message: str, result: dict[str, Any] | None = None, detail: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message, **(detail or {}))
        self.result = result


Work = Callable[[Progress], Awaitable[dict[str, Any]]]


class Jobs:
    """Accepts, runs and records the long jobs of one service process."""

    def __init__(
        self, db: Database, table: Table, concurrency: int = 1, heartbeat: float = 1.0, stale_after: float = 60.0
    ) -> None:
        self.db, self.table = db, table
        self.heartbeat, self.stale_after = heartbeat, stale_after
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[uuid.UUID, asyncio.Task[dict[str, Any]]] = {}

    async def submit(
        self, kind: str, work: Work, detail: dict[str, Any] | None = None, created_by: str | None = None
    ) -> uuid.UUID:
        """Record a job as queued (committed) and start it in the background; returns its id."""
        job_id = await self._queued(kind, detail, created_by)
        self._tasks[job_id] = asyncio.create_task(self._run(job_id, work), name=f"job {kind} {job_id}")
        self._tasks[job_id].add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return job_id

    async def run_now(
        self, kind: str, work: Work, detail: dict[str, Any] | None = None, created_by: str | None = None
    ) -> tuple[uuid.UUID, dict[str, Any]]:
        """Run a job in the caller's task (a request that waits for it), recorded as any other; its id and
        result. An exception is recorded on the job, then raised to the caller."""
        job_id = await self._queued(kind, detail, created_by)
        return job_id, await self._run(job_id, work, reraise=True)

    async def _queued(self, kind: str, detail: dict[str, Any] | None, created_by: str | None) -> uuid.UUID:
        job_id = uuid.uuid4()
        async with self.db.transaction() as session:
            await session.execute(
                insert(self.table).values(id=job_id, kind=kind, status=QUEUED, detail=detail, created_by=created_by)
            )
        return job_id

    async def get(self, job_id: uuid.UUID) -> JobRead:
        async with self.db.sessions() as session:
            row = (await session.execute(select(self.table).where(self.table.c.id == job_id))).first()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return self._shown(JobRead.model_validate(row))

    async def recent(self, kind: str | None, limit: int) -> list[JobRead]:
        stmt = select(self.table).order_by(self.table.c.created_at.desc()).limit(limit)
        if kind:
            stmt = stmt.where(self.table.c.kind == kind)
        async with self.db.sessions() as session:
            return [self._shown(JobRead.model_validate(row)) for row in (await session.execute(stmt)).all()]

    def _shown(self, job: JobRead) -> JobRead:
        """A job whose heartbeat stopped is no longer running, whatever its row still says."""
        if job.status in UNFINISHED and job.updated_at < datetime.now(UTC) - timedelta(seconds=self.stale_after):
            return job.model_copy(update={"status": INTERRUPTED, "error": job.error or _GONE})
        return job

    async def run(self, stop: asyncio.Event) -> None:
        """A background loop of the service: mark the jobs of dead processes, and at stop interrupt its own."""
        try:
            await self._mark_stale()
        except Exception:
            log.exception("could not mark the jobs left by stopped processes")
        await stop.wait()
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _mark_stale(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.stale_after)
        async with self.db.transaction() as session:
            await session.execute(
                update(self.table)
                .where(self.table.c.status.in_(UNFINISHED), self.table.c.updated_at < cutoff)
                .values(status=INTERRUPTED, error=_GONE, finished_at=func.now())
            )

    async def _run(self, job_id: uuid.UUID, work: Work, reraise: bool = False) -> dict[str, Any]:
        progress = Progress(phase=QUEUED)
        beat = asyncio.create_task(self._beat(job_id, progress))  # queued or running, a sign of life
        outcome: dict[str, Any] = {"status": INTERRUPTED, "error": _STOPPED}  # unless the work ends
        try:
            async with self._slots:
                progress.phase = "starting"
                await self._write(job_id, status=RUNNING, started_at=func.now(), phase=progress.phase)
                result = await work(progress)
            outcome = {"status": SUCCEEDED, "result": result}
            return result
        except JobFailed as exc:
            outcome = {"status": FAILED, "error": exc.message, "result": exc.result}
            if reraise:
                raise
        except Exception as exc:
            outcome = {"status": FAILED, "error": f"{type(exc).__name__}: {exc}"}
            if reraise:
                raise
            log.exception("job %s failed", job_id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            final = {"phase": progress.phase, "done": progress.done, "total": progress.total}
            await asyncio.shield(self._write(job_id, **final, **outcome, finished_at=func.now()))
        return {}

    async def _beat(self, job_id: uuid.UUID, progress: Progress) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._write(job_id, phase=progress.phase, done=progress.done, total=progress.total)
            except Exception:
                log.warning("job %s: its progress could not be written; trying again", job_id, exc_info=True)

    async def _write(self, job_id: uuid.UUID, **values: Any) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(self.table).where(self.table.c.id == job_id).values(**values, updated_at=func.now())
            )


_GONE = "the process running the job stopped (no sign of life); submit it again"
_STOPPED = "the service stopped before the job finished; submit it again"


def accepted(job: JobRead) -> JSONResponse:
    """202 Accepted: the job, and where to follow it."""
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"})


def jobs_router(dependencies: Sequence[Any] = ()) -> APIRouter:
    """`GET /jobs/{id}` and `GET /jobs`, answered from the database (any replica knows every job)."""
    router = APIRouter(tags=["jobs"], dependencies=list(dependencies))

    @router.get("/jobs/{job_id}", response_model=JobRead, responses=errors(404))
    async def get_job(job_id: uuid.UUID, request: Request) -> JobRead:
        """A long job: its status (queued, running, succeeded, failed, interrupted), progress and result."""
        jobs: Jobs = request.app.state.jobs
        return await jobs.get(job_id)

    @router.get("/jobs", response_model=list[JobRead])
    async def list_jobs(
        request: Request,
        kind: str | None = Query(None, max_length=50),
        limit: int = Query(20, ge=1, le=200),
    ) -> list[JobRead]:
        """Recent long jobs, newest first."""
        jobs: Jobs = request.app.state.jobs
        return await jobs.recent(kind, limit)

    return router
