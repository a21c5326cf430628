"""Projecting events into read models, and reading the summary back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository
from shared.contracts import deterministic_id
from shared.contracts.ingest import FeedRunCompleted, FeedRunStatus
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.contracts.rules import (
    CertificateStatusChanged,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventUpdated,
    RiskEventUpdatedV2,
)


async def risk_event_raised(session: AsyncSession, event: RiskEventRaised) -> None:
    types = sorted({c.type for c in event.certificates})
    new = await repository.add_risk_event(
        session,
        {
            "risk_event_id": event.risk_event_id,
            "organisation_id": event.organisation_id,
            "organisation_name": event.organisation_name,
            "signal_kind": event.signal_kind.value,
            "severity": event.severity.value,
            "province": event.province,
            "certificate_types": ",".join(types),
            "recommended_measure": event.recommended_measure.value,
            "status": "open",
            "decision_due": event.decision_due,
            "raised_at": event.raised_at,
        },
    )
    if not new:
        return
    await repository.bump(session, "risk_events")
    await repository.bump(session, "risk_events_by_severity", event.severity.value)
    await repository.bump(session, "risk_events_by_kind", event.signal_kind.value)
    await repository.bump(session, "risk_events_by_province", event.province or "unknown")
    for certificate_type in types or ["none"]:
        await repository.bump(session, "risk_events_by_certificate_type", certificate_type)


async def risk_event_updated(session: AsyncSession, event: RiskEventUpdated) -> None:
    view = await repository.risk_event(session, event.risk_event_id)
    if view is not None:
        view.status, view.severity = event.status.value, event.severity.value
        view.decision = event.decision.value if event.decision else view.decision
        if event.change == "decided":
            view.decided_at, view.decided_by = event.updated_at, event.actor
        if event.status.value == "closed":
            view.closed_at = event.updated_at
    if event.decision:
        await repository.bump(session, "decisions", event.decision.value)


async def risk_event_clocks(session: AsyncSession, event: RiskEventRaisedV2 | RiskEventUpdatedV2) -> None:
    """The statutory clocks of a risk event, for timeliness (the v1 twin of the event feeds the rest)."""
    for clock in event.clocks:
        await repository.put_clock(
            session,
            {
                "clock_id": clock.clock_id, "risk_event_id": event.risk_event_id, "kind": clock.kind.value,
                "basis_document": clock.basis.document, "basis_article": clock.basis.article,
                "starts_on": clock.starts_on, "due_on": clock.due_on, "state": clock.state.value,
                "ended_on": clock.ended_on, "ended_by": clock.ended_by, "provisional": clock.provisional,
                "signal_published_on": event.signal_published_on,
            },
        )  # fmt: skip


async def certificate_status_changed(session: AsyncSession, event: CertificateStatusChanged) -> None:
    await repository.bump(session, "measures_taken", event.new_status.value)
    await repository.add_measure(
        session,
        {
            "id": deterministic_id("measure", event.certificate_id, event.risk_event_id, event.effective_on,
                                   event.old_status.value, event.new_status.value),
            "organisation_id": event.organisation_id,
            "certificate_number": event.number,
            "certificate_type": event.type,
            "old_status": event.old_status.value,
            "new_status": event.new_status.value,
            "effective_on": event.effective_on,
            "until": event.until,
            "reason": event.reason,
            "risk_event_id": event.risk_event_id,
            "decided_by": event.decided_by,
        },
    )  # fmt: skip


async def organisation_updated(session: AsyncSession, event: OrganisationUpdated) -> None:
    await repository.screen_organisation(session, event.organisation_id, event.certificate_count)


async def feed_run_completed(session: AsyncSession, event: FeedRunCompleted) -> None:
    ok = event.status in (FeedRunStatus.SUCCEEDED, FeedRunStatus.PARTIAL, FeedRunStatus.NOT_MODIFIED)
    await repository.feed_run(
        session,
        {
            "feed": event.feed,
            "last_status": event.status.value,
            "last_finished_at": event.finished_at,
            "last_succeeded_at": event.finished_at if ok else None,
        },
    )
    await repository.bump(session, "signals_by_feed", event.feed, event.published)


async def notification(session: AsyncSession, event: NotificationDelivered | NotificationFailed) -> None:
    outcome = "delivered" if isinstance(event, NotificationDelivered) else "failed"
    await repository.bump(session, f"notifications_{outcome}", event.channel.value)


async def summary(session: AsyncSession) -> dict[str, object]:
    """What the dashboard and the regulator's report start from."""
    grouped: dict[str, dict[str, int]] = {}
    for tally in await repository.tallies(session):
        grouped.setdefault(tally.metric, {})[tally.dimension] = tally.value
    organisations, certificates = await repository.screened(session)
    return {
        "risk_events_raised": grouped.get("risk_events", {}).get("all", 0),
        "risk_events_by_severity": grouped.get("risk_events_by_severity", {}),
        "risk_events_by_kind": grouped.get("risk_events_by_kind", {}),
        "risk_events_by_province": grouped.get("risk_events_by_province", {}),
        "risk_events_by_certificate_type": grouped.get("risk_events_by_certificate_type", {}),
        "decisions": grouped.get("decisions", {}),
        "measures_taken": grouped.get("measures_taken", {}),
        "notifications_delivered": grouped.get("notifications_delivered", {}),
        "notifications_failed": grouped.get("notifications_failed", {}),
        "organisations_screened": organisations,
        "certificates_screened": certificates,
        "open_past_deadline": await repository.overdue(session, datetime.now(UTC).date()),
        "feeds": [
            {
                "feed": f.feed,
                "last_status": f.last_status,
                "last_finished_at": f.last_finished_at,
                "runs": f.runs,
            }
            for f in await repository.feeds(session)
        ],
    }
