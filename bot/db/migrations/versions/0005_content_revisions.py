"""Content revisions and their review, the reload counter, unanswered questions, the web outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

`messages` gains `content_revision` (which revision of an answer was sent), added and dropped with
plain ALTER TABLE on SQLite and PostgreSQL: a batch rebuild of `messages` would cascade-delete its
feedback on SQLite. `unanswered` and `referral_searches` are linked to nobody: a random key and
the day only, so no timestamp or sequence joins them back to a user's messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_revisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("comment", sa.String(1000), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("item", "number", name="uq_content_revisions_item_number"),
    )
    op.create_index("ix_content_revisions_item", "content_revisions", ["item"])
    op.create_index("ix_content_revisions_status", "content_revisions", ["status"])
    state = op.create_table(
        "content_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # the one row every publish bumps (and every writer locks), present from the start
    op.bulk_insert(state, [{"id": 1, "version": 0, "changed_at": datetime.now(UTC)}])
    op.create_table(
        "unanswered",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("text", sa.String(300), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("guess", sa.String(64), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_unanswered_day", "unanswered", ["day"])
    op.create_table(
        "referral_searches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("county", sa.String(64), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_referral_searches_day", "referral_searches", ["day"])
    op.create_table(
        "web_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_outbox_address", "web_outbox", ["address"])
    op.add_column("messages", sa.Column("content_revision", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN content_revision")
    op.drop_index("ix_web_outbox_address", table_name="web_outbox")
    op.drop_table("web_outbox")
    op.drop_index("ix_referral_searches_day", table_name="referral_searches")
    op.drop_table("referral_searches")
    op.drop_index("ix_unanswered_day", table_name="unanswered")
    op.drop_table("unanswered")
    op.drop_table("content_state")
    op.drop_index("ix_content_revisions_status", table_name="content_revisions")
    op.drop_index("ix_content_revisions_item", table_name="content_revisions")
    op.drop_table("content_revisions")
