"""Webhook deliveries seen, and cases that outlive the young person's erasure.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

`telegram_updates` records each webhook `update_id` once, so a redelivered update (Telegram retries
when it got no 200 in time) is not answered twice, whichever process receives it: `received_at` is
when a process took it, `handled_at` when its replies were sent (a taken, unhandled update whose
process died is taken over after a lease); rows older than a day are purged. In polling mode the
update itself (`payload`) is stored before Telegram is told it arrived, so a process killed before
answering it answers it on restart.

`cases.user_id` becomes nullable: when a young person deletes their data (/delete) or the
retention purge removes them, their cases lose the link to them (the transcript is deleted) and
what counsellors wrote is kept without anyone's id. On SQLite the column change rebuilds
`cases`; migrations run there with foreign keys off (bot.db.migrate), so the rebuild cannot
cascade into case notes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
    )
    op.create_index("ix_telegram_updates_received_at", "telegram_updates", ["received_at"])
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("user_id", existing_type=sa.String(64), nullable=True)
    # deleting a message looks up its feedback: without this, a purge scans `feedback` per row
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_message_id", table_name="feedback")
    op.execute("DELETE FROM cases WHERE user_id IS NULL")
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("user_id", existing_type=sa.String(64), nullable=False)
    op.drop_index("ix_telegram_updates_received_at", table_name="telegram_updates")
    op.drop_table("telegram_updates")
