"""The review workflow: assign, comment, decide and close a risk event (DESIGN.md §6).

open → in_review (assigned) → decided → closed. Every step is a recorded human act: it names its
actor, is written to the append-only audit trail and published on `rules.risk-event-updated.v1` and,
with the event's statutory clocks, `…-updated.v2`. A decision to suspend, withdraw or restore changes the
certificates' status in the registry (a new revision of the organisation) and publishes
`rules.certificate-status-changed.v1` for each; a certificate is never suspended or withdrawn any other way.
A decision also ends the clocks it answers and starts those it calls for (review/clocks.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.registry import service as registry
from services.rules.review import clocks, repository
from services.rules.ruleset.clocks import add_months
from services.rules.tables import AuditEntry, Certificate, RiskEvent
from shared import workdays
from shared.contracts import Topic, deterministic_id
from shared.contracts.notify import OrganisationResponded, ResponseKind
from shared.contracts.rules import (
    CertificateStatus,
    CertificateStatusChanged,
    Measure,
    RiskEventStatus,
    RiskEventUpdated,
    Severity,
)
from shared.errors import Conflict, InvalidInput, NotFound
from shared.kafka.outbox import Outbox
from shared.observability import BACKGROUND

log = logging.getLogger(__name__)
# Management-system suspensions last at most 6 months, then withdrawal if unresolved (DESIGN.md §5).
LONGEST_SUSPENSION_MONTHS = 6
# What each measure does to a certificate, and the statuses it may do it from.
CERTIFICATE_EFFECT: dict[Measure, tuple[CertificateStatus, frozenset[CertificateStatus]]] = {
    Measure.SUSPEND: (CertificateStatus.SUSPENDED, frozenset({CertificateStatus.VALID})),
    Measure.WITHDRAW: (CertificateStatus.WITHDRAWN, frozenset({CertificateStatus.VALID, CertificateStatus.SUSPENDED})),
    Measure.RESTORE: (CertificateStatus.VALID, frozenset({CertificateStatus.SUSPENDED})),
}
DECISIONS = frozenset(Measure) - {Measure.CLOSE}


@dataclass(frozen=True)
class Decision:
    measure: Measure
    actor: str
    reason: str
    corrective_action_due: date | None = None
    suspended_until: date | None = None
    certificates: tuple[str, ...] = ()  # numbers; none named: every certificate the measure applies to
    reply_due: date | None = None  # request_explanation: the day the organisation is to answer by


async def assign(
    session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, assignee: str, actor: str, reason: str | None
) -> RiskEvent:
    event = await _open_event(session, risk_event_id)
    event.assigned_to = assignee
    if event.status == RiskEventStatus.OPEN.value:
        event.status = RiskEventStatus.IN_REVIEW.value
    repository.audit(session, event.id, actor, "assigned", assignee=assignee, reason=reason)
    await _publish(session, outbox, event, "assigned", actor, reason)
    return event


async def comment(session: AsyncSession, risk_event_id: uuid.UUID, actor: str, text: str) -> RiskEvent:
    event = await _event(session, risk_event_id)
    repository.audit(session, event.id, actor, "commented", text=text)
    return event


async def decide(session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, decision: Decision) -> RiskEvent:
    """Record a decision (a later one may follow: corrective action first, suspension if it fails)."""
    event = await _open_event(session, risk_event_id)
    today = workdays.today()
    _check(decision, today)
    _within_the_suspension_limit(event, decision)
    org = await registry.get(session, event.organisation_id)
    changed: list[tuple[Certificate, CertificateStatus]] = []
    if decision.measure in CERTIFICATE_EFFECT:
        changed = _certificates_changed(org.certificates, decision)
        for certificate, _old in changed:
            certificate.status = CERTIFICATE_EFFECT[decision.measure][0].value
            certificate.status_changed_on = today
        await registry.record_change(session, outbox, org, source=f"decision on risk event {event.id}")
    event.status, event.decision = RiskEventStatus.DECIDED.value, decision.measure.value
    event.suspended_until = decision.suspended_until if decision.measure is Measure.SUSPEND else None
    event.updated_at = datetime.now(UTC)
    clocks.decided(event, decision.measure, today, decision.corrective_action_due or decision.reply_due)
    detail = {
        "measure": decision.measure.value,
        "corrective_action_due": decision.corrective_action_due and decision.corrective_action_due.isoformat(),
        "reply_due": decision.reply_due and decision.reply_due.isoformat(),
        "suspended_until": decision.suspended_until and decision.suspended_until.isoformat(),
        "certificates": [c.number for c, _ in changed],
    }
    repository.audit(session, event.id, decision.actor, "decided", reason=decision.reason, **detail)
    step = await repository.audit_steps(session, event.id)  # makes each decision's event id its own
    await _publish(
        session,
        outbox,
        event,
        "decided",
        decision.actor,
        decision.reason,
        decision=decision.measure,
        corrective_action_due=decision.corrective_action_due,
        step=step,
    )
    for certificate, old in changed:
        change = CertificateStatusChanged(
            certificate_id=certificate.id,
            organisation_id=org.id,
            number=certificate.number,
            type=certificate.type,
            old_status=old,
            new_status=CertificateStatus(certificate.status),
            effective_on=today,
            until=decision.suspended_until if decision.measure is Measure.SUSPEND else None,
            reason=decision.reason,
            risk_event_id=event.id,
            decided_by=decision.actor,
        )
        await outbox.add(
            session,
            Topic.CERTIFICATE_STATUS_CHANGED,
            str(org.id),
            change,
            event_id=deterministic_id("certificate-status-changed", certificate.id, event.id, step),
        )
    return event


async def close(session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, actor: str, reason: str) -> RiskEvent:
    event = await _open_event(session, risk_event_id)
    if event.decision is None:
        raise Conflict(
            f"risk event {risk_event_id} has no decision: decide it first (no_action, if nothing is to be done)"
        )
    event.status = RiskEventStatus.CLOSED.value
    event.updated_at = datetime.now(UTC)
    clocks.made_moot(event, event.updated_at.date(), "closed")
    repository.audit(session, event.id, actor, "closed", reason=reason)
    await _publish(session, outbox, event, "closed", actor, reason)
    return event


async def replied(session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, actor: str, text: str) -> RiskEvent:
    """The organisation answered what a decision asked of it: its reply clock ends (met by the due date),
    and the answer goes on the audit trail under its name. The organisation's page (issue 15 §1) calls this."""
    event = await _open_event(session, risk_event_id)
    if not clocks.replied(event, workdays.today()):
        raise Conflict(f"risk event {risk_event_id} waits for no reply")
    repository.audit(session, event.id, actor, "replied", reason=text)
    await _publish(session, outbox, event, "replied", actor, text)
    return event


# What an organisation did on its page (issue 15 §1), as its audit-trail action.
RESPONSE_ACTIONS = {kind: f"organisation_{kind.value}" for kind in ResponseKind}
ACCEPTED = "corrective_action_accepted"


async def organisation_responded(session: AsyncSession, outbox: Outbox, response: OrganisationResponded) -> bool:
    """An organisation's act from its signed link goes on the event's audit trail under its name. An answer
    (reply, dispute, corrective action done) ends a running reply clock; a dispute puts the event back in
    review with its reason; a corrective action marked done waits for a decision-maker's acceptance. False
    when the event is unknown or not the organisation's (logged, nothing recorded)."""
    event = await repository.get(session, response.risk_event_id, for_update=True)
    if event is None or event.organisation_id != response.organisation_id:
        log.warning(
            "response %s names risk event %s, not one of organisation %s: ignored",
            response.response_id,
            response.risk_event_id,
            response.organisation_id,
        )
        return False
    actor, action = f"组织：{response.organisation_name}"[:100], RESPONSE_ACTIONS[response.kind]
    detail: dict[str, object] = {
        "response_id": str(response.response_id),
        "link_id": str(response.link_id),
        "files": [f.model_dump(mode="json") for f in response.files],
    }
    if response.kind is ResponseKind.CORRECTIVE_ACTION_DONE:
        detail["state"] = "awaiting_acceptance"
    repository.audit(session, event.id, actor, action, reason=response.text, **detail)
    answered = response.kind is not ResponseKind.ACKNOWLEDGED and response.kind is not ResponseKind.EVIDENCE_UPLOADED
    changed = answered and clocks.replied(event, response.responded_at.date())
    if response.kind is ResponseKind.DISPUTED and event.status != RiskEventStatus.CLOSED.value:
        event.status, changed = RiskEventStatus.IN_REVIEW.value, True
    if changed or response.kind is ResponseKind.CORRECTIVE_ACTION_DONE:
        event.updated_at = datetime.now(UTC)
        await _publish(session, outbox, event, action, actor, response.text)
    return True


async def accept_corrective_action(
    session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, actor: str, reason: str
) -> RiskEvent:
    """A decision-maker accepts the corrective action an organisation marked done."""
    event = await _event(session, risk_event_id)
    if corrective_action_state(await repository.audit_trail(session, event.id)) != "awaiting_acceptance":
        raise Conflict(f"risk event {risk_event_id} has no corrective action waiting for acceptance")
    repository.audit(session, event.id, actor, ACCEPTED, reason=reason)
    event.updated_at = datetime.now(UTC)
    await _publish(session, outbox, event, ACCEPTED, actor, reason)
    return event


def corrective_action_state(trail: list[AuditEntry]) -> Literal["awaiting_acceptance", "accepted"] | None:
    """awaiting_acceptance after the organisation marked it done, accepted once a decision-maker did; else None."""
    for entry in reversed(trail):
        if entry.action == RESPONSE_ACTIONS[ResponseKind.CORRECTIVE_ACTION_DONE]:
            return "awaiting_acceptance"
        if entry.action == ACCEPTED:
            return "accepted"
    return None


async def reopen_expired(session: AsyncSession, outbox: Outbox, today: date) -> int:
    """Reopen every event whose suspension has ended with no later decision: a suspension lasts at most
    6 months, then the certificate is withdrawn unless it is restored (DESIGN §5). Each reopened event is
    due for a decision within 5 working days of the suspension's end (QMS rule 2016 §7.3.1(7)); returns
    how many."""
    reopened = 0
    for event in await repository.suspensions_ended(session, today):
        ended = event.suspended_until
        assert ended is not None
        event.status, event.suspended_until = RiskEventStatus.IN_REVIEW.value, None
        clocks.reopened(event, ended)
        event.updated_at = datetime.now(UTC)
        reason = f"the suspension ended on {ended} with no later decision: restore or withdraw the certificates"
        repository.audit(session, event.id, "system", "reopened", reason=reason, suspension_ended=str(ended))
        await _publish(session, outbox, event, "reopened", "system", reason)
        BACKGROUND.labels("rules", "suspension_ended", "reopened").inc()
        reopened += 1
    if reopened:
        log.info("%d risk events reopened: their suspension ended", reopened)
    return reopened


def _check(decision: Decision, today: date) -> None:
    """What each measure needs, checked before anything changes: a 422 says what is missing."""
    if decision.measure not in DECISIONS:
        raise InvalidInput(f"'{decision.measure}' is not a decision; close the event instead", field="measure")
    if decision.measure is Measure.CORRECTIVE_ACTION:
        if decision.corrective_action_due is None:
            raise InvalidInput("a corrective action request needs corrective_action_due", field="corrective_action_due")
        if decision.corrective_action_due <= today:
            raise InvalidInput("corrective_action_due must be after today", field="corrective_action_due")
    elif decision.corrective_action_due is not None:
        raise InvalidInput("corrective_action_due goes with corrective_action only", field="corrective_action_due")
    if decision.measure is Measure.SUSPEND:
        if decision.suspended_until is None:
            raise InvalidInput("a suspension needs suspended_until", field="suspended_until")
        if not today < decision.suspended_until <= add_months(today, LONGEST_SUSPENSION_MONTHS):
            raise InvalidInput(
                "suspended_until must be after today and at most 6 months away (then withdraw if unresolved)",
                field="suspended_until",
            )
    elif decision.suspended_until is not None:
        raise InvalidInput("suspended_until goes with suspend only", field="suspended_until")
    if decision.certificates and decision.measure not in CERTIFICATE_EFFECT:
        raise InvalidInput(f"'{decision.measure}' changes no certificate: name none", field="certificates")
    if decision.reply_due is not None:
        if decision.measure is not Measure.REQUEST_EXPLANATION:
            raise InvalidInput(
                "reply_due goes with request_explanation (corrective action has corrective_action_due)",
                field="reply_due",
            )
        if decision.reply_due <= today:
            raise InvalidInput("reply_due must be after today", field="reply_due")


def _within_the_suspension_limit(event: RiskEvent, decision: Decision) -> None:
    """A suspension decided again while one runs ends, at the latest, 6 months after the first began."""
    limit = clocks.suspension_limit(event)
    until = decision.suspended_until if decision.measure is Measure.SUSPEND else None
    if limit is not None and until is not None and until > limit.due_on:
        raise InvalidInput(
            f"the suspension began on {limit.starts_on}: it may last until {limit.due_on} at most "
            "(then withdraw if unresolved)",
            field="suspended_until",
        )


def _certificates_changed(
    certificates: list[Certificate], decision: Decision
) -> list[tuple[Certificate, CertificateStatus]]:
    """The certificates the measure changes, with their status before it."""
    _new, allowed = CERTIFICATE_EFFECT[decision.measure]
    by_number = {c.number: c for c in certificates}
    if decision.certificates:
        unknown = [n for n in decision.certificates if n not in by_number]
        if unknown:
            raise InvalidInput(f"not certificates of this organisation: {', '.join(unknown)}", field="certificates")
        chosen = [by_number[n] for n in decision.certificates]
        refused = [f"{c.number} is {c.status}" for c in chosen if CertificateStatus(c.status) not in allowed]
        if refused:
            raise Conflict(f"cannot {decision.measure.value}: {'; '.join(refused)}")
    else:
        chosen = [c for c in certificates if CertificateStatus(c.status) in allowed]
        if not chosen:
            raise Conflict(
                f"cannot {decision.measure.value}: no certificate of this organisation is in a status it applies to"
            )
    return [(c, CertificateStatus(c.status)) for c in chosen]


async def _event(session: AsyncSession, risk_event_id: uuid.UUID) -> RiskEvent:
    event = await repository.get(session, risk_event_id, for_update=True)
    if event is None:
        raise NotFound(f"no risk event {risk_event_id}")
    return event


async def _open_event(session: AsyncSession, risk_event_id: uuid.UUID) -> RiskEvent:
    event = await _event(session, risk_event_id)
    if event.status == RiskEventStatus.CLOSED.value:
        raise Conflict(f"risk event {risk_event_id} is closed")
    return event


async def _publish(
    session: AsyncSession,
    outbox: Outbox,
    event: RiskEvent,
    change: str,
    actor: str,
    reason: str | None,
    *,
    decision: Measure | None = None,
    corrective_action_due: date | None = None,
    step: int | None = None,
) -> None:
    update = RiskEventUpdated(
        risk_event_id=event.id,
        organisation_id=event.organisation_id,
        status=RiskEventStatus(event.status),
        severity=Severity(event.severity),
        change=change,
        decision=decision,
        corrective_action_due=corrective_action_due,
        actor=actor,
        reason=reason,
        updated_at=datetime.now(UTC),
    )
    if step is None:
        step = await repository.audit_steps(session, event.id)
    await outbox.add(
        session,
        Topic.RISK_EVENT_UPDATED,
        str(event.organisation_id),
        update,
        event_id=deterministic_id("risk-event-updated", event.id, change, step),
    )
    await clocks.publish_update(
        session, outbox, event, update, deterministic_id("risk-event-updated.v2", event.id, change, step)
    )
