"""Counsellors, the case queue's columns, case notes and the open-case transcript.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

On SQLite, adding a foreign key to `cases` needs a table rebuild: `batch_alter_table` copies the
rows into a new table (indexes included); on PostgreSQL the same block is plain ALTER TABLE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    "topic",
    "counsellor_id",
    "claimed_at",
    "first_reply_at",
    "closed_at",
    "alerted_at",
    "resolution",
    "rating",
    "route",
)


def upgrade() -> None:
    op.create_table(
        "counsellors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("telegram_id", name="uq_counsellors_telegram_id"),
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("topic", sa.String(64), nullable=True))
        batch.add_column(sa.Column("counsellor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(500), nullable=True))
        batch.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("route", sa.String(512), nullable=True))
        batch.create_foreign_key(
            "fk_cases_counsellor_id", "counsellors", ["counsellor_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_cases_counsellor_id", ["counsellor_id"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "counsellor_id",
            sa.Integer(),
            sa.ForeignKey("counsellors.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_messages_case_id", "case_messages", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_messages_case_id", table_name="case_messages")
    op.drop_table("case_messages")
    op.drop_index("ix_case_notes_case_id", table_name="case_notes")
    op.drop_table("case_notes")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_counsellor_id")
        batch.drop_constraint("fk_cases_counsellor_id", type_="foreignkey")
        for column in CASE_COLUMNS:
            batch.drop_column(column)
    op.drop_table("counsellors")
