"""clocks: each risk event's statutory deadlines, with their legal basis and state (issue 15 §2)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clocks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("basis", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_by", sa.String(length=30), nullable=True),
        sa.Column("provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("calendar_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["risk_event_id"], ["risk_events.id"], name=op.f("fk_clocks_risk_event_id_risk_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clocks")),
    )
    op.create_index(op.f("ix_clocks_risk_event_id"), "clocks", ["risk_event_id"], unique=False)
    op.create_index(op.f("ix_clocks_due_on"), "clocks", ["due_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_clocks_due_on"), table_name="clocks")
    op.drop_index(op.f("ix_clocks_risk_event_id"), table_name="clocks")
    op.drop_table("clocks")
