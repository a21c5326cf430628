"""clocks: the statutory clocks of risk events, for timeliness (rules.risk-event-*.v2; issue 15 §2)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clocks",
        sa.Column("clock_id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("basis_document", sa.String(length=200), nullable=False),
        sa.Column("basis_article", sa.String(length=50), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_by", sa.String(length=30), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("signal_published_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("clock_id", name=op.f("pk_clocks")),
    )
    op.create_index(op.f("ix_clocks_due_on"), "clocks", ["due_on"], unique=False)
    op.create_index(op.f("ix_clocks_risk_event_id"), "clocks", ["risk_event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_clocks_risk_event_id"), table_name="clocks")
    op.drop_index(op.f("ix_clocks_due_on"), table_name="clocks")
    op.drop_table("clocks")
