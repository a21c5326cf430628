"""deliveries become the delivery outbox: consumers queue, the sender sends after commit; deferred_messages
folds into it (send_after)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("recipient", sa.String(length=254), nullable=True))
    op.add_column("deliveries", sa.Column("subject", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("body", sa.Text(), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("send_after", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.add_column("deliveries", sa.Column("claim", sa.Uuid(), nullable=True))
    op.add_column("deliveries", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("caused_by", sa.Uuid(), nullable=True))
    op.add_column("deliveries", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    # Rows logged before this revision were sent and marked in one go.
    op.execute("UPDATE deliveries SET send_after = created_at, finished_at = created_at")
    op.create_index(
        "ix_deliveries_due", "deliveries", ["send_after"], unique=False, postgresql_where=sa.text("status = 'queued'")
    )
    # Texts waiting for the end of quiet hours are queued deliveries now, due at the same moment.
    op.execute(
        """
        INSERT INTO deliveries (id, organisation_id, risk_event_id, channel, recipient, recipient_masked, template,
                                subject, body, status, send_after, attempts, caused_by, created_at)
        SELECT id, organisation_id, risk_event_id, channel, recipient, recipient_masked, template,
               subject, body, 'queued', send_after, 0, caused_by, created_at
        FROM deferred_messages
        ON CONFLICT (id) DO NOTHING
        """
    )
    op.drop_index(op.f("ix_deferred_messages_send_after"), table_name="deferred_messages")
    op.drop_index(op.f("ix_deferred_messages_organisation_id"), table_name="deferred_messages")
    op.drop_table("deferred_messages")


def downgrade() -> None:
    op.create_table(
        "deferred_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_masked", sa.String(length=100), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caused_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deferred_messages")),
    )
    op.create_index(
        op.f("ix_deferred_messages_organisation_id"), "deferred_messages", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_deferred_messages_send_after"), "deferred_messages", ["send_after"], unique=False)
    # Every message still queued waits in deferred_messages again: the old code's poll sends those already
    # due (emails included) at once, the others when their quiet hours end.
    op.execute(
        """
        INSERT INTO deferred_messages (id, organisation_id, risk_event_id, channel, recipient, recipient_masked,
                                       template, subject, body, send_after, caused_by, created_at)
        SELECT id, organisation_id, risk_event_id, channel, recipient, recipient_masked, template,
               subject, body, send_after, caused_by, created_at
        FROM deliveries
        WHERE status = 'queued' AND recipient IS NOT NULL AND caused_by IS NOT NULL
        """
    )
    op.execute("DELETE FROM deliveries WHERE status = 'queued'")
    op.drop_index("ix_deliveries_due", table_name="deliveries", postgresql_where=sa.text("status = 'queued'"))
    op.drop_column("deliveries", "finished_at")
    op.drop_column("deliveries", "caused_by")
    op.drop_column("deliveries", "claimed_until")
    op.drop_column("deliveries", "claim")
    op.drop_column("deliveries", "send_after")
    op.drop_column("deliveries", "body")
    op.drop_column("deliveries", "subject")
    op.drop_column("deliveries", "recipient")
