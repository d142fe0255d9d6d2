"""Web console accounts, the audit log, and counsellors who work on the web.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

`counsellors.telegram_id` becomes nullable and `counsellors.web_user_id` links a web account. On
SQLite that rebuilds `counsellors`, and with foreign keys enforced (bot.db.session turns them on)
dropping the old table sets `cases.counsellor_id` and `case_notes.counsellor_id` to NULL. So the
links are read before the rebuild and written back after it. On PostgreSQL the same block is plain
ALTER TABLE and nothing is lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Links = dict[str, list[dict[str, int]]]


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("username", name="uq_web_users_username"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    links = _read_links()
    with op.batch_alter_table("counsellors") as batch:
        batch.alter_column("telegram_id", existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column("web_user_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_counsellors_web_user_id", ["web_user_id"])
        batch.create_foreign_key(
            "fk_counsellors_web_user_id", "web_users", ["web_user_id"], ["id"], ondelete="CASCADE"
        )
    _write_links(links)


def downgrade() -> None:
    _forget_web_only_counsellors()
    links = _read_links()
    with op.batch_alter_table("counsellors") as batch:
        batch.drop_constraint("fk_counsellors_web_user_id", type_="foreignkey")
        batch.drop_constraint("uq_counsellors_web_user_id", type_="unique")
        batch.drop_column("web_user_id")
        batch.alter_column("telegram_id", existing_type=sa.BigInteger(), nullable=False)
    _write_links(links)
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("web_users")


def _forget_web_only_counsellors() -> None:
    """0003 needs a Telegram id: put web-only counsellors' cases back in the queue, delete them."""
    op.execute(
        "UPDATE cases SET status = 'waiting', counsellor_id = NULL, claimed_at = NULL,"
        " alerted_at = NULL WHERE status = 'active'"
        " AND counsellor_id IN (SELECT id FROM counsellors WHERE telegram_id IS NULL)"
    )
    op.execute(
        "UPDATE cases SET counsellor_id = NULL"
        " WHERE counsellor_id IN (SELECT id FROM counsellors WHERE telegram_id IS NULL)"
    )
    op.execute(
        "UPDATE case_notes SET counsellor_id = NULL"
        " WHERE counsellor_id IN (SELECT id FROM counsellors WHERE telegram_id IS NULL)"
    )
    op.execute("DELETE FROM counsellors WHERE telegram_id IS NULL")


def _read_links() -> Links:
    """Which counsellor each case and note belongs to (only SQLite's rebuild needs this)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return {}
    cases = bind.execute(
        sa.text("SELECT id, counsellor_id FROM cases WHERE counsellor_id IS NOT NULL")
    )
    notes = bind.execute(
        sa.text("SELECT id, counsellor_id FROM case_notes WHERE counsellor_id IS NOT NULL")
    )
    return {
        "cases": [{"id": row.id, "counsellor_id": row.counsellor_id} for row in cases],
        "case_notes": [{"id": row.id, "counsellor_id": row.counsellor_id} for row in notes],
    }


def _write_links(links: Links) -> None:
    """Restore what `_read_links` saw."""
    bind = op.get_bind()
    if links.get("cases"):
        bind.execute(
            sa.text("UPDATE cases SET counsellor_id = :counsellor_id WHERE id = :id"),
            links["cases"],
        )
    if links.get("case_notes"):
        bind.execute(
            sa.text("UPDATE case_notes SET counsellor_id = :counsellor_id WHERE id = :id"),
            links["case_notes"],
        )
