"""Signed, expiring links to an organisation's page: one per organisation and risk event, and a general one.

The token is the link's id signed with `itsdangerous` (HMAC-SHA1 over the id and the time it was signed, the
key from settings); it opens the page until `link_lifetime_days` have passed. The link's row says whose it is,
which event it is about and its short code for SMS."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import OrganisationLink
from services.notify.settings import NotifySettings
from shared.contracts import deterministic_id

SALT = "certwatch.organisation-page.v1"


class LinkRefused(Exception):
    """The link does not open the page: `why` is tampered, expired or unknown."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Issued:
    url: str
    short_url: str


class Links:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.lifetime = timedelta(days=settings.link_lifetime_days)
        self._serializer = URLSafeTimedSerializer(settings.link_key(), salt=SALT)

    def url(self, token: str) -> str:
        return f"{self.settings.page_url.rstrip('/')}/o/{token}"

    def short_url(self, code: str) -> str:
        return f"{self.settings.page_url.rstrip('/')}/o/s/{code}"

    async def issue(self, session: AsyncSession, organisation_id: uuid.UUID, risk_event_id: uuid.UUID | None) -> Issued:
        """The organisation's link for this event (or its general link): the same row every time, signed again
        once it has expired."""
        return (await self.issue_many(session, [(organisation_id, risk_event_id)]))[(organisation_id, risk_event_id)]

    async def issue_many(
        self, session: AsyncSession, wanted: list[tuple[uuid.UUID, uuid.UUID | None]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID | None], Issued]:
        """`issue` for many (organisation, event) pairs at once: the existing rows in one query (locked in id
        order, so two consumers never wait on each other in a circle), the missing ones in one insert."""
        keys = {deterministic_id("organisation-link", org, event or "general"): (org, event) for org, event in wanted}
        if not keys:
            return {}
        now = datetime.now(UTC)
        mine = select(OrganisationLink).where(OrganisationLink.id.in_(keys)).order_by(OrganisationLink.id)
        rows = {row.id: row for row in (await session.scalars(mine.with_for_update())).all()}
        missing = [link_id for link_id in keys if link_id not in rows]
        if missing:
            values = [
                {
                    "id": link_id,
                    "organisation_id": keys[link_id][0],
                    "risk_event_id": keys[link_id][1],
                    "code": secrets.token_urlsafe(9)[:12],
                    "token": self._serializer.dumps(str(link_id)),
                    "expires_at": now + self.lifetime,
                }
                for link_id in missing
            ]
            await session.execute(insert(OrganisationLink).values(values).on_conflict_do_nothing())
            made = mine.where(OrganisationLink.id.in_(missing)).execution_options(populate_existing=True)
            rows.update({row.id: row for row in (await session.scalars(made.with_for_update())).all()})
        issued = {}
        for link_id, row in rows.items():
            if row.expires_at <= now + timedelta(days=1):
                row.token, row.expires_at = self._serializer.dumps(str(link_id)), now + self.lifetime
            issued[keys[link_id]] = Issued(self.url(row.token), self.short_url(row.code))
        return issued

    async def open(self, session: AsyncSession, token: str) -> OrganisationLink:
        """The link a token signs; LinkRefused when it was altered, has expired or names no link."""
        try:
            link_id = uuid.UUID(self._serializer.loads(token, max_age=int(self.lifetime.total_seconds())))
        except SignatureExpired as exc:
            raise LinkRefused("expired") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise LinkRefused("tampered") from exc
        row = await session.get(OrganisationLink, link_id)
        if row is None:
            raise LinkRefused("unknown")
        return row

    async def by_code(self, session: AsyncSession, code: str) -> OrganisationLink:
        row = await session.scalar(select(OrganisationLink).where(OrganisationLink.code == code[:16]))
        if row is None:
            raise LinkRefused("unknown")
        if row.expires_at <= datetime.now(UTC):
            raise LinkRefused("expired")
        return row
