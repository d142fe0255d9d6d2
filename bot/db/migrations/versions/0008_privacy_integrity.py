"""Privacy and integrity: ids never reused, delivery receipts, console sessions that end.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

- `web_outbox`, `web_users` and `cases` are rebuilt on SQLite with AUTOINCREMENT, so a deleted
  row's id is never handed out again: a web chat page's cursor cannot skip a new message that
  reused an old id, and a removed console account's cookie cannot open the next account made.
  (PostgreSQL's serial columns never reuse ids: nothing to do there.)
- `web_outbox.receipt`: the relayed `case_messages` row a web message carries, so the page's
  acknowledgement marks it delivered; `case_messages.delivered_at` is when it reached the young
  person's chat (sent to Telegram, or shown by the web chat page).
- `web_users.session_version`: bumped on logout, password change and role change; a console
  cookie carries the version it was issued with and stops working when it is bumped.
- `ended_web_chats`: keyed hashes of web chat tokens that were ended (quick exit, /exit, /delete),
  kept until the token would have expired anyway, so a copied cookie opens nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

REBUILT = ("web_outbox", "web_users", "cases")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in REBUILT:
        if sqlite:  # batch mode copies the table into one declared AUTOINCREMENT
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass
    with op.batch_alter_table("web_outbox") as batch:
        batch.add_column(sa.Column("receipt", sa.Integer(), nullable=True))
    with op.batch_alter_table("case_messages") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "ended_web_chats",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("ended_web_chats")
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("session_version")
    with op.batch_alter_table("case_messages") as batch:
        batch.drop_column("delivered_at")
    with op.batch_alter_table("web_outbox") as batch:
        batch.drop_column("receipt")
