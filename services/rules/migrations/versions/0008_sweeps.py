"""sweeps, sweep_hits, sweep_rankings: the campaign sweep's record, what it found and its ranking

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("window", sa.String(length=20), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=100), nullable=False),
        sa.Column("ruleset", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("organisations", sa.Integer(), nullable=False),
        sa.Column("certificates", sa.Integer(), nullable=False),
        sa.Column("signals_read", sa.Integer(), nullable=False),
        sa.Column("signals", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("organisations_hit", sa.Integer(), nullable=False),
        sa.Column("events_raised", sa.Integer(), nullable=False),
        sa.Column("coverage", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
        sa.UniqueConstraint("active", name=op.f("uq_sweeps_active")),
    )
    op.create_table(
        "sweep_hits",
        sa.Column("sweep_id", sa.Uuid(), nullable=False),
        sa.Column("signal_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("signal_kind", sa.String(length=50), nullable=False),
        sa.Column("feed", sa.String(length=100), nullable=False),
        sa.Column("signal_on", sa.Date(), nullable=True),
        sa.Column("subject_name", sa.Text(), nullable=False),
        sa.Column("party_role", sa.String(length=50), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("bulletin_no", sa.Text(), nullable=True),
        sa.Column("certificate_no", sa.String(length=100), nullable=True),
        sa.Column("match_decision", sa.String(length=10), nullable=False),
        sa.Column("match_method", sa.String(length=30), nullable=False),
        sa.Column("match_score", sa.Float(), nullable=False),
        sa.Column("product_in_scope", sa.Boolean(), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=True),
        sa.Column("recommended_measure", sa.String(length=30), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("raised", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["sweeps.id"], name=op.f("fk_sweep_hits_sweep_id_sweeps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sweep_id", "signal_id", "organisation_id", name=op.f("pk_sweep_hits")),
    )
    op.create_index("ix_sweep_hits_sweep_id_organisation_id", "sweep_hits", ["sweep_id", "organisation_id"])
    op.create_table(
        "sweep_rankings",
        sa.Column("sweep_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("in_force", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["sweeps.id"], name=op.f("fk_sweep_rankings_sweep_id_sweeps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sweep_id", "organisation_id", name=op.f("pk_sweep_rankings")),
    )
    op.create_index("ix_sweep_rankings_sweep_id_rank", "sweep_rankings", ["sweep_id", "rank"])


def downgrade() -> None:
    op.drop_index("ix_sweep_rankings_sweep_id_rank", table_name="sweep_rankings")
    op.drop_table("sweep_rankings")
    op.drop_index("ix_sweep_hits_sweep_id_organisation_id", table_name="sweep_hits")
    op.drop_table("sweep_hits")
    op.drop_table("sweeps")
