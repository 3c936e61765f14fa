"""Watch together: group chats the bot is in, their standing members, rounds of picks, the
films shown to a group and the members' votes (domain/groups.py); and `users.private_since`,
when the user first wrote to the bot in a private chat.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00
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
        "group_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("show_names", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_chats")),
        sa.UniqueConstraint("telegram_chat_id", name=op.f("uq_group_chats_telegram_chat_id")),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_chats.id"],
            name=op.f("fk_group_members_group_id_group_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_table(
        "group_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="joining", nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("winner_pick_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.CheckConstraint(
            "status IN ('joining', 'voting', 'decided', 'cancelled')",
            name=op.f("ck_group_rounds_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_chats.id"],
            name=op.f("fk_group_rounds_group_id_group_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_rounds")),
    )
    op.create_index(
        "ix_group_rounds_open",
        "group_rounds",
        ["group_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('joining', 'voting')"),
    )
    op.create_table(
        "group_picks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["group_rounds.id"],
            name=op.f("fk_group_picks_round_id_group_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tmdb_id"], ["films.tmdb_id"], name=op.f("fk_group_picks_tmdb_id_films")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_picks")),
        sa.UniqueConstraint("round_id", "position", name=op.f("uq_group_picks_round_id_position")),
    )
    op.create_table(
        "group_round_members",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["group_rounds.id"],
            name=op.f("fk_group_round_members_round_id_group_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_round_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("round_id", "user_id", name=op.f("pk_group_round_members")),
    )
    op.create_table(
        "group_votes",
        sa.Column("pick_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("vote IN (-1, 1)", name=op.f("ck_group_votes_vote_sign")),
        sa.ForeignKeyConstraint(
            ["pick_id"],
            ["group_picks.id"],
            name=op.f("fk_group_votes_pick_id_group_picks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_votes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pick_id", "user_id", name=op.f("pk_group_votes")),
    )
    op.add_column("users", sa.Column("private_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "private_since")
    op.drop_table("group_votes")
    op.drop_table("group_round_members")
    op.drop_table("group_picks")
    op.drop_index(
        "ix_group_rounds_open",
        table_name="group_rounds",
        postgresql_where=sa.text("status IN ('joining', 'voting')"),
    )
    op.drop_table("group_rounds")
    op.drop_table("group_members")
    op.drop_table("group_chats")
