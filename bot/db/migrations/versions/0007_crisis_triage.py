"""Crisis triage: how a young person left an open case, and check-ins held out of the queue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

`cases.left_how` says how the young person left while the case was open ("quick_exit"), so the
counsellor knows not to expect an answer and that the phone may not be theirs alone; `left_at`
says when. Check-ins (status `check_in`, issue 16) need no column: `status` already holds eight
characters, and the queue and alerts select `waiting` cases only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("left_how", sa.String(16), nullable=True))
        batch.add_column(sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM cases WHERE status = 'check_in'")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("left_at")
        batch.drop_column("left_how")
