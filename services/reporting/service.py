"""Projecting events into read models, and reading the summary back."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository
from services.reporting.models import RiskEventView
from shared import workdays
from shared.contracts import deterministic_id
from shared.contracts.ingest import FeedRunCompleted, FeedRunStatus
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.contracts.rules import (
    CertificateStatusChanged,
    ClockKind,
    ClockState,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventUpdated,
    RiskEventUpdatedV2,
)

LOCAL = workdays.LOCAL  # the dashboard's days are the regulator's
UNRESOLVED = ("open", "in_review")  # an event still waiting for its decision
# the clocks a decision ends: their days from the signal are the dashboard's "signal to decision"
DECISION_CLOCKS = (ClockKind.SHORT_NOTICE_AUDIT.value, ClockKind.SUSPENSION.value, ClockKind.WITHDRAWAL.value)


SELF_REPORT = "self_report"  # an organisation reporting its own problem (自查自纠上报): counted apart


class RiskEventRaisedAnyKind(RiskEventRaised):
    """`rules.risk-event-raised.v1` as reporting reads it: any signal kind's word (the read model keeps a string),
    so a kind added after reporting was built (`self_report`) is counted, not dead-lettered."""

    signal_kind: str = Field(min_length=1, max_length=50)  # type: ignore[assignment]


class RiskEventRaisedV2AnyKind(RiskEventRaisedV2):
    """`rules.risk-event-raised.v2` read the same way (only its clocks are read)."""

    signal_kind: str = Field(min_length=1, max_length=50)  # type: ignore[assignment]


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL).date()


async def risk_event_raised(session: AsyncSession, event: RiskEventRaised) -> None:
    types = sorted({c.type for c in event.certificates})
    kind = counted_kind(event)
    new = await repository.add_risk_event(
        session,
        {
            "risk_event_id": event.risk_event_id,
            "organisation_id": event.organisation_id,
            "organisation_name": event.organisation_name,
            "signal_kind": kind,
            "severity": event.severity.value,
            "province": event.province,
            "certificate_types": ",".join(types),
            "recommended_measure": event.recommended_measure.value,
            "status": "open",
            "decision_due": event.decision_due,
            "raised_at": event.raised_at,
            "signal_id": event.signal_id,
            "rule_id": event.rule_id,
            "title": event.title,
            "summary": event.summary,
            "match_method": event.match.method,
            "match_score": event.match.score,
            "match_explanation": event.match.explanation,
            "certificates": "\n".join(f"{c.number} {c.type} {c.status.value}" for c in event.certificates),
        },
    )
    if not new:
        return
    await repository.bump(session, "risk_events")
    await repository.bump(session, "risk_events_by_severity", event.severity.value)
    await repository.bump(session, "risk_events_by_kind", kind)
    await repository.bump(session, "risk_events_by_province", event.province or "unknown")
    for certificate_type in types or ["none"]:
        await repository.bump(session, "risk_events_by_certificate_type", certificate_type)
    await _daily_raised(session, event, kind, types)


def counted_kind(event: RiskEventRaised) -> str:
    """The kind an event is counted under: `self_report` for what an organisation reported itself (its page,
    issue 15 §1: rules raises it under the rule of the problem named, and says so in the match's method),
    else the signal's kind (the enum's value, or the word of a kind this build does not know)."""
    return SELF_REPORT if event.match.method == SELF_REPORT else str(event.signal_kind)


async def _daily_raised(session: AsyncSession, event: RiskEventRaised, kind: str, types: list[str]) -> None:
    """The dashboard's aggregate (migration 0005 rebuilds the same from the rows)."""
    day = local_day(event.raised_at)
    for metric, dimension in (
        ("raised", "all"),
        ("raised_by_kind", kind),
        ("raised_by_severity", event.severity.value),
        ("raised_by_province", event.province or "unknown"),
        *(("raised_by_certificate_type", t) for t in types or ["none"]),
    ):
        await repository.bump_day(session, day, metric, dimension)
    if event.decision_due:
        await repository.bump_day(session, event.decision_due, "due")


async def risk_event_updated(session: AsyncSession, event: RiskEventUpdated) -> None:
    view = await repository.risk_event(session, event.risk_event_id)
    if view is not None:
        was_resolved_on = _resolved_on(view)
        first_decision = view.decided_at is None
        view.status, view.severity = event.status.value, event.severity.value
        view.decision = event.decision.value if event.decision else view.decision
        if event.change == "decided":
            view.decided_at, view.decided_by = event.updated_at, event.actor
            if first_decision:
                await repository.bump_day(
                    session, local_day(event.updated_at), "decided_by_measure", view.decision or "none"
                )
        if event.status.value == "closed":
            view.closed_at = event.updated_at
        await _daily_resolution(session, view, was_resolved_on, _resolved_on(view))
    if event.decision:
        await repository.bump(session, "decisions", event.decision.value)


def _resolved_on(view: RiskEventView) -> date | None:
    """The local day the event left open/in review (None while it waits for its decision)."""
    if view.status in UNRESOLVED:
        return None
    at = view.decided_at or view.closed_at
    return local_day(at) if at else None


async def _daily_resolution(
    session: AsyncSession, view: RiskEventView, before: date | None, after: date | None
) -> None:
    """Resolved events per day, and the deadlines they met or missed: open and overdue over time follow from
    these (a reopened event is taken back on the day it had been resolved)."""
    if before == after:
        return
    for day, by in ((before, -1), (after, 1)):
        if day is None:
            continue
        await repository.bump_day(session, day, "resolved", by=by)
        if view.decision_due:
            await repository.bump_day(session, max(view.decision_due, day), "due_resolved", by=by)


async def risk_event_clocks(session: AsyncSession, event: RiskEventRaisedV2 | RiskEventUpdatedV2) -> None:
    """The statutory clocks of a risk event, for timeliness (the v1 twin of the event feeds the rest)."""
    stored = await repository.kept_clocks(session, event.risk_event_id) if event.clocks else {}
    for clock in event.clocks:
        kept = stored.get(clock.clock_id)
        fresh = kept is None or kept["ended_on"] is None  # else the row stays as it is (put_clock)
        if fresh and clock.ended_on and clock.state is not ClockState.VOID and clock.kind.value in DECISION_CLOCKS:
            days = (clock.ended_on - (event.signal_published_on or clock.starts_on)).days
            await repository.bump_day(session, clock.ended_on, "decision_days", str(days))
        if fresh:
            before = (
                _clock_tallies(
                    kept["due_on"],
                    kept["kind"],
                    kept["state"],
                    kept["ended_on"],
                    kept["signal_published_on"],
                    kept["starts_on"],
                )
                if kept
                else []
            )
            after = _clock_tallies(
                clock.due_on,
                clock.kind.value,
                clock.state.value,
                clock.ended_on,
                event.signal_published_on,
                clock.starts_on,
            )
            for fact in set(before) ^ set(after):
                await repository.bump_day(session, *fact, by=1 if fact in after else -1)
        await repository.put_clock(
            session,
            {
                "clock_id": clock.clock_id,
                "risk_event_id": event.risk_event_id,
                "kind": clock.kind.value,
                "basis_document": clock.basis.document,
                "basis_article": clock.basis.article,
                "starts_on": clock.starts_on,
                "due_on": clock.due_on,
                "state": clock.state.value,
                "ended_on": clock.ended_on,
                "ended_by": clock.ended_by,
                "provisional": clock.provisional,
                "signal_published_on": event.signal_published_on,
            },
        )


def _clock_tallies(
    due_on: date, kind: str, state: str, ended_on: date | None, published_on: date | None, starts_on: date
) -> list[tuple[date, str, str]]:
    """What a clock adds to the dashboard's timeliness, on its due day (migration 0006 rebuilds the same from the
    rows): due, met or missed (a running one is counted missed once its day has passed), and when it ended, its
    days from the signal's publication."""
    if state == ClockState.VOID.value:
        return []
    facts = [(due_on, "clock_due", kind)]
    if state in (ClockState.MET.value, ClockState.MISSED.value):
        facts.append((due_on, f"clock_{state}", kind))
    if ended_on is not None:
        facts.append((due_on, "clock_days", f"{kind}:{(ended_on - (published_on or starts_on)).days}"))
    return facts


async def certificate_status_changed(session: AsyncSession, event: CertificateStatusChanged) -> None:
    await repository.bump(session, "measures_taken", event.new_status.value)
    await repository.add_measure(
        session,
        {
            "id": deterministic_id(
                "measure",
                event.certificate_id,
                event.risk_event_id,
                event.effective_on,
                event.old_status.value,
                event.new_status.value,
            ),
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
    )


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
    at = event.delivered_at if isinstance(event, NotificationDelivered) else event.failed_at
    await repository.add_notification(
        session,
        {
            "notification_id": event.notification_id,
            "organisation_id": event.organisation_id,
            "risk_event_id": event.risk_event_id,
            "channel": event.channel.value,
            "recipient_masked": event.recipient_masked,
            "template": event.template,
            "outcome": outcome,
            "attempts": event.attempts,
            "at": at,
        },
    )


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
        # of the events raised, those an organisation reported itself (自查自纠上报), apart from the rest
        "risk_events_self_reported": grouped.get("risk_events_by_kind", {}).get(SELF_REPORT, 0),
        "risk_events_by_province": grouped.get("risk_events_by_province", {}),
        "risk_events_by_certificate_type": grouped.get("risk_events_by_certificate_type", {}),
        "decisions": grouped.get("decisions", {}),
        "measures_taken": grouped.get("measures_taken", {}),
        "notifications_delivered": grouped.get("notifications_delivered", {}),
        "notifications_failed": grouped.get("notifications_failed", {}),
        "organisations_screened": organisations,
        "certificates_screened": certificates,
        "open_past_deadline": await repository.overdue(session, workdays.today()),
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
