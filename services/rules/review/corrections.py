"""Signals that correct earlier signals (issue 15 §3): a 复检 passed, an objection (异议) was upheld, a listing
was removed early, a licence or CCC certificate was restored.

Such a signal, for the same organisation and the same product and batch (or the same listing), links to the
earlier event that is not closed and marks it superseded, pending confirmation, with the evidence. Nothing
else changes: the event keeps its status and its statutory clocks run on. A decision-maker then confirms the
correction (the event closes and its running clocks end, void) or rejects it (the event goes on as before).
A correction never closes an event by itself, and never restores a certificate: restoring one is a decision
of its own (`POST /risk-events/{id}/decision` with `restore`).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.review import clocks, repository
from services.rules.review.decisions import _event, _publish
from services.rules.tables import RiskEvent
from shared import workdays
from shared.contracts.ingest import SignalKindV3 as K
from shared.contracts.ingest import SignalV2
from shared.contracts.rules import MatchSummary, RiskEventStatus
from shared.errors import Conflict
from shared.kafka.outbox import Outbox

PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"
# What each correcting kind corrects: the signal kinds of the events it may supersede.
CORRECTS: dict[str, frozenset[str]] = {
    K.SPOT_CHECK_OVERTURNED: frozenset({K.SPOT_CHECK_FAILURE, K.FOOD_SPOT_CHECK_FAILURE}),
    K.SERIOUS_ILLEGAL_REMOVED: frozenset({K.SERIOUS_ILLEGAL_LISTED}),
    K.ABNORMAL_OPERATION_REMOVED: frozenset({K.ABNORMAL_OPERATION_LISTED}),
    K.LICENCE_RESTORED: frozenset({K.LICENCE_SUSPENDED, K.LICENCE_REVOKED, K.LICENCE_EXPIRED}),
    K.CCC_RESTORED: frozenset({K.CCC_SUSPENDED, K.CCC_WITHDRAWN, K.CCC_EXPIRED}),
}
# A spot check is corrected per product and batch; a listing or a licence per organisation (and number).
BY_PRODUCT: frozenset[str] = frozenset({K.SPOT_CHECK_OVERTURNED})  # str: a v2 signal's kind is looked up too


def _norm(value: object) -> str:
    return "".join(unicodedata.normalize("NFKC", str(value or "")).split())


def same_subject(earlier: dict[str, Any], correction: SignalV2) -> tuple[bool, dict[str, object]]:
    """Whether the correction speaks of the earlier event's product and batch (or listing), and how it was told.

    A product must agree by name; the batch by production date, or by batch number, whichever both print; the
    bulletin corrected, when the correction names one and the earlier signal printed its number. For a listing or
    licence, a certificate number printed by both must agree."""
    how: dict[str, object] = {}
    detail, corrected = earlier.get("detail") or {}, correction.detail
    if correction.kind in BY_PRODUCT:
        product, theirs = earlier.get("product") or {}, correction.product
        if theirs is None or not theirs.name or not product.get("name"):
            return False, {"product": "not named by both"}
        if _norm(theirs.name) != _norm(product["name"]):
            return False, {"product": f"{theirs.name} ≠ {product['name']}"}
        how["product"] = theirs.name
        pairs = (
            ("production_date", theirs.production_date and theirs.production_date.isoformat()),
            ("batch", theirs.batch),
        )
        compared = [(field, mine, product.get(field)) for field, mine in pairs if mine and product.get(field)]
        if compared:
            field, mine, earlier_value = compared[0]
            if _norm(mine) != _norm(earlier_value):
                return False, {**how, field: f"{mine} ≠ {earlier_value}"}
            how[field] = mine
        else:
            how["batch"] = "not printed by both: product alone"
    corrects = getattr(correction, "correction", None)
    bulletin = corrects.corrects_bulletin_no if corrects is not None else None
    if bulletin and detail.get("bulletin_no"):
        if _norm(bulletin) != _norm(detail["bulletin_no"]):
            return False, {**how, "bulletin_no": f"{bulletin} ≠ {detail['bulletin_no']}"}
        how["bulletin_no"] = bulletin
    number = corrected.certificate_no
    if number and detail.get("certificate_no"):
        if _norm(number) != _norm(detail["certificate_no"]):
            return False, {**how, "certificate_no": f"{number} ≠ {detail['certificate_no']}"}
        how["certificate_no"] = number
    return True, how


async def supersede(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: uuid.UUID,
    signal: SignalV2,
    match: MatchSummary,
    caused_by: uuid.UUID,
) -> list[RiskEvent]:
    """Mark the organisation's open events this signal corrects as superseded, pending confirmation; returns them.
    An event already pending (or confirmed) for this signal is left as it is: a replay changes nothing."""
    kinds = CORRECTS.get(signal.kind.value)
    if not kinds:
        return []
    before = await repository.corrected_by(session, organisation_id, signal.signal_id)
    if before:  # linked before, whatever has happened since (confirmed and closed, rejected): a replay or a
        return before  # sweep changes nothing, and raises no event of the signal's own in its place
    linked = []
    for event in await repository.open_of_kinds(session, organisation_id, kinds):
        held = event.correction or {}
        if held.get("state") == PENDING or held.get("signal_id") == str(signal.signal_id):
            continue
        agrees, how = same_subject(event.signal, signal)
        if not agrees:
            continue
        corrects = getattr(signal, "correction", None)
        evidence = {
            "state": PENDING,
            "signal_id": str(signal.signal_id),
            "signal_kind": signal.kind.value,
            "how": corrects.how.value if corrects is not None else signal.kind.value,
            "evidence": corrects.evidence if corrects is not None else (signal.detail.reason or signal.detail.status),
            "corrects_bulletin_no": corrects.corrects_bulletin_no if corrects is not None else None,
            "published_on": signal.published_on and signal.published_on.isoformat(),
            "source_url": signal.source_url,
            "agrees_on": how,
            "match": {"decision": match.decision.value, "score": match.score, "explanation": match.explanation},
            "linked_at": datetime.now(UTC).isoformat(),
            "previous": held or None,  # a correction rejected before
        }
        event.correction, event.updated_at = evidence, datetime.now(UTC)
        reason = f"superseded, pending confirmation: {evidence['how']} ({evidence['evidence']})"
        repository.audit(
            session,
            event.id,
            "system",
            "superseded_pending",
            reason=reason,
            caused_by=str(caused_by),
            **{k: v for k, v in evidence.items() if k not in {"state", "previous"}},
        )
        await _publish(session, outbox, event, "superseded_pending", "system", reason)
        linked.append(event)
    return linked


async def confirm(
    session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, actor: str, reason: str
) -> RiskEvent:
    """The decision-maker confirms the correction: the event closes and what still runs of its clocks ends (void,
    or missed if already past due). The certificates are left as they are."""
    event = await _pending(session, risk_event_id)
    today = workdays.today()
    event.status, event.updated_at = RiskEventStatus.CLOSED.value, datetime.now(UTC)
    event.correction = {**(event.correction or {}), "state": CONFIRMED, "decided_by": actor, "decided_on": str(today)}
    clocks.made_moot(event, today, "correction")
    repository.audit(
        session,
        event.id,
        actor,
        "correction_confirmed",
        reason=reason,
        signal_id=event.correction.get("signal_id"),
        certificates="unchanged: restoring one is a decision of its own",
    )
    await _publish(session, outbox, event, "closed", actor, reason)
    return event


async def reject(session: AsyncSession, outbox: Outbox, risk_event_id: uuid.UUID, actor: str, reason: str) -> RiskEvent:
    """The decision-maker rejects the correction: the event goes on as before (its clocks never stopped)."""
    event = await _pending(session, risk_event_id)
    today = workdays.today()
    event.correction = {**(event.correction or {}), "state": REJECTED, "decided_by": actor, "decided_on": str(today)}
    event.updated_at = datetime.now(UTC)
    repository.audit(
        session, event.id, actor, "correction_rejected", reason=reason, signal_id=event.correction.get("signal_id")
    )
    await _publish(session, outbox, event, "correction_rejected", actor, reason)
    return event


async def _pending(session: AsyncSession, risk_event_id: uuid.UUID) -> RiskEvent:
    event = await _event(session, risk_event_id)
    if event.status == RiskEventStatus.CLOSED.value:
        raise Conflict(f"risk event {risk_event_id} is closed")
    if (event.correction or {}).get("state") != PENDING:
        raise Conflict(f"risk event {risk_event_id} has no correction pending confirmation")
    return event
