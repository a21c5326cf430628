"""A reviewer's verdict on a match: remembered for the pair, written to the audit trail. A confirmation
confirms the non-conformity, so it starts the suspension or withdrawal clock the event calls for; a
rejection voids the clocks still running."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import subject_key
from services.rules.review import clocks, repository
from services.rules.tables import MatchVerdict, RiskEvent
from shared import workdays
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import Subject
from shared.contracts.rules import RiskEventStatus, RiskEventUpdated, Severity
from shared.errors import Conflict, NotFound
from shared.kafka.outbox import Outbox


async def record(
    session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, confirmed: bool, actor: str, reason: str | None
) -> RiskEvent:
    """Remember the verdict for the (subject, organisation) pair; a rejected match closes the event."""
    event = await repository.get(session, risk_event_id)
    if event is None:
        raise NotFound(f"no risk event {risk_event_id}")
    if event.status == RiskEventStatus.CLOSED.value:
        raise Conflict(f"risk event {risk_event_id} is closed")
    subject: dict[str, object] = dict(event.signal.get("subject") or {})  # type: ignore[call-overload]
    key = subject_key(str(subject.get("name", "")), _usable_code(subject))
    values = {
        "subject_key": key,
        "organisation_id": event.organisation_id,
        "confirmed": confirmed,
        "actor": actor,
        "reason": reason,
        "at": datetime.now(UTC),
    }
    await session.execute(
        insert(MatchVerdict)
        .values(**values)
        .on_conflict_do_update(index_elements=["subject_key", "organisation_id"], set_=values)
    )
    repository.audit(session, event.id, actor, "match_confirmed" if confirmed else "match_rejected", reason=reason)
    today = workdays.today()
    if not confirmed:
        event.status, event.decision = RiskEventStatus.CLOSED.value, "no_action"
        clocks.made_moot(event, today, "match_rejected")
        await _published(
            session, outbox, event, "closed", actor, f"match rejected: {reason}" if reason else "match rejected"
        )
    elif clocks.confirmed(event, today):  # v2 only: nothing a v1 reader sees has changed
        await _published(session, outbox, event, "match_confirmed", actor, reason)
    return event


def _usable_code(subject: dict[str, object]) -> str | None:
    """A stored signal's subject (JSON) read as the contract reads it: its code when usable as a key."""
    try:
        return Subject.model_validate(subject).usable_code
    except ValidationError:  # a subject stored before its contract said so: no code to key by
        return None


async def _published(
    session: AsyncSession, outbox: Outbox, event: RiskEvent, change: str, actor: str, reason: str | None
) -> None:
    update = RiskEventUpdated(
        risk_event_id=event.id,
        organisation_id=event.organisation_id,
        status=RiskEventStatus(event.status),
        severity=Severity(event.severity),
        change=change,
        actor=actor,
        reason=reason,
        updated_at=datetime.now(UTC),
    )
    step = "match-rejected" if change == "closed" else "match-confirmed"
    if change == "closed":
        await outbox.add(
            session,
            Topic.RISK_EVENT_UPDATED,
            str(event.organisation_id),
            update,
            event_id=deterministic_id("risk-event-updated", event.id, step),
        )
    v2_id = deterministic_id("risk-event-updated.v2", event.id, step)
    await clocks.publish_update(session, outbox, event, update, v2_id)
