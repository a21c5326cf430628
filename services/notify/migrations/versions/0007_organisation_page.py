"""organisation_links, event_pages, organisation_responses: the organisation's page (issue 15 §1)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "organisation_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_links")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_links_code")),
    )
    op.create_index(op.f("ix_organisation_links_organisation_id"), "organisation_links", ["organisation_id"])
    op.create_table(
        "event_pages",
        sa.Column("risk_event_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("clocks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("risk_event_id", name=op.f("pk_event_pages")),
    )
    op.create_index(op.f("ix_event_pages_organisation_id"), "event_pages", ["organisation_id"])
    op.create_table(
        "organisation_responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("files", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_responses")),
    )
    for column in ("link_id", "organisation_id", "risk_event_id"):
        op.create_index(op.f(f"ix_organisation_responses_{column}"), "organisation_responses", [column])


def downgrade() -> None:
    op.drop_table("organisation_responses")
    op.drop_table("event_pages")
    op.drop_table("organisation_links")
