"""Group chats, their rounds, picks and votes (tables in db/models.py, rules in domain/groups.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    OPEN_ROUND_STATUSES,
    GroupChat,
    GroupMember,
    GroupPick,
    GroupRound,
    GroupRoundMember,
    GroupVote,
    User,
)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A member of a round: `user_id` is `users.id`; `private` whether they have ever written
    to the bot in a private chat."""

    user_id: int
    telegram_id: int
    first_name: str | None
    private: bool


@dataclass(frozen=True, slots=True)
class NewGroupPick:
    position: int
    tmdb_id: int
    score: float
    reasons: list[Any]


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- chats -------------------------------------------------------------------------------
    async def upsert_chat(self, telegram_chat_id: int, title: str | None) -> GroupChat:
        """The group (created on first sight), active again, its title refreshed. One statement."""
        stmt = (
            insert(GroupChat)
            .values(telegram_chat_id=telegram_chat_id, title=title, active=True)
            .on_conflict_do_update(
                index_elements=[GroupChat.telegram_chat_id],
                set_={"title": func.coalesce(title, GroupChat.title), "active": True},
            )
            .returning(GroupChat)
        )
        return (await self.session.scalars(stmt, execution_options={"populate_existing": True})).one()

    async def by_chat(self, telegram_chat_id: int) -> GroupChat | None:
        return await self.session.scalar(
            select(GroupChat).where(GroupChat.telegram_chat_id == telegram_chat_id)
        )

    async def deactivate(self, telegram_chat_id: int) -> int | None:
        """Mark the group inactive (the bot was removed) and cancel its open round; returns the
        group's id, None if unknown."""
        group_id = await self.session.scalar(
            update(GroupChat)
            .where(GroupChat.telegram_chat_id == telegram_chat_id)
            .values(active=False)
            .returning(GroupChat.id)
        )
        if group_id is not None:
            await self.session.execute(
                update(GroupRound)
                .where(GroupRound.group_id == group_id, GroupRound.status.in_(OPEN_ROUND_STATUSES))
                .values(status="cancelled", decided_at=func.now())
            )
        return group_id

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> bool:
        """Move the group to its new (supergroup) chat id. A row already made for the new id
        with no members and no rounds (the bot saw the supergroup first) gives way; with data
        of its own it stays and the old row is left. Returns whether the old row moved."""
        if await self.by_chat(old_chat_id) is None:
            return False
        newer = await self.by_chat(new_chat_id)
        if newer is not None:
            used = await self.session.scalar(
                select(
                    exists().where(GroupMember.group_id == newer.id)
                    | exists().where(GroupRound.group_id == newer.id)
                )
            )
            if used:
                return False
            await self.session.delete(newer)
            await self.session.flush()
        moved = await self.session.execute(
            update(GroupChat)
            .where(GroupChat.telegram_chat_id == old_chat_id)
            .values(telegram_chat_id=new_chat_id)
        )
        return bool(moved.rowcount)  # type: ignore[attr-defined]

    async def set_show_names(self, group_id: int, show: bool) -> None:
        await self.session.execute(update(GroupChat).where(GroupChat.id == group_id).values(show_names=show))

    # --- standing members ---------------------------------------------------------------------
    async def add_member(self, group_id: int, user_id: int) -> bool:
        """Add a standing member; False if they were one already."""
        stmt = insert(GroupMember).values(group_id=group_id, user_id=user_id).on_conflict_do_nothing()
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def remove_member(self, group_id: int, user_id: int) -> bool:
        stmt = delete(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def standing_members(self, group_id: int) -> list[int]:
        stmt = (
            select(GroupMember.user_id)
            .where(GroupMember.group_id == group_id)
            .order_by(GroupMember.joined_at)
        )
        return list(await self.session.scalars(stmt))

    # --- rounds ---------------------------------------------------------------------------------
    async def open_round(self, group_id: int, *, lock: bool = True) -> GroupRound | None:
        """The group's round that is joining or voting (at most one: a partial unique index),
        locked FOR UPDATE until the transaction ends when `lock`."""
        stmt = select(GroupRound).where(
            GroupRound.group_id == group_id, GroupRound.status.in_(OPEN_ROUND_STATUSES)
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt, execution_options={"populate_existing": True})

    async def round_for_update(self, round_id: int) -> GroupRound | None:
        """One round, locked FOR UPDATE: taps on one round are handled one at a time."""
        stmt = select(GroupRound).where(GroupRound.id == round_id).with_for_update()
        return await self.session.scalar(stmt, execution_options={"populate_existing": True})

    async def create_round(
        self, group_id: int, user_ids: Sequence[int], *, status: str = "joining"
    ) -> GroupRound:
        round_ = GroupRound(group_id=group_id, status=status)
        self.session.add(round_)
        await self.session.flush()
        for user_id in dict.fromkeys(user_ids):
            await self.add_round_member(round_.id, user_id)
        return round_

    async def add_round_member(self, round_id: int, user_id: int) -> bool:
        stmt = insert(GroupRoundMember).values(round_id=round_id, user_id=user_id).on_conflict_do_nothing()
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def remove_round_member(self, round_id: int, user_id: int) -> bool:
        stmt = delete(GroupRoundMember).where(
            GroupRoundMember.round_id == round_id, GroupRoundMember.user_id == user_id
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def round_members(self, round_id: int) -> list[MemberRow]:
        """The round's members in the order they joined."""
        stmt = (
            select(User.id, User.telegram_id, User.first_name, User.private_since)
            .join(GroupRoundMember, GroupRoundMember.user_id == User.id)
            .where(GroupRoundMember.round_id == round_id)
            .order_by(GroupRoundMember.joined_at, User.id)
        )
        return [
            MemberRow(u, t, name, since is not None) for u, t, name, since in await self.session.execute(stmt)
        ]

    # --- picks and votes -----------------------------------------------------------------------
    async def add_picks(self, round_id: int, picks: Sequence[NewGroupPick]) -> list[GroupPick]:
        rows = [
            GroupPick(
                round_id=round_id, position=p.position, tmdb_id=p.tmdb_id, score=p.score, reasons=p.reasons
            )
            for p in picks
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return rows

    async def picks(self, round_id: int) -> list[GroupPick]:
        stmt = select(GroupPick).where(GroupPick.round_id == round_id).order_by(GroupPick.position)
        return list(await self.session.scalars(stmt))

    async def pick(self, pick_id: int) -> GroupPick | None:
        return await self.session.get(GroupPick, pick_id)

    async def set_pick_message(self, pick_id: int, message_id: int) -> None:
        await self.session.execute(
            update(GroupPick).where(GroupPick.id == pick_id).values(message_id=message_id)
        )

    async def vote(self, pick_id: int, user_id: int, vote: int) -> bool:
        """Record or change a vote; False when it was already exactly this."""
        stmt = (
            insert(GroupVote)
            .values(pick_id=pick_id, user_id=user_id, vote=vote)
            .on_conflict_do_update(
                index_elements=[GroupVote.pick_id, GroupVote.user_id],
                set_={"vote": vote, "voted_at": func.now()},
                where=GroupVote.vote != vote,
            )
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def votes(self, round_id: int) -> dict[int, dict[int, int]]:
        """pick id → user id → vote (+1 / −1), for every pick of the round (empty dicts too)."""
        result: dict[int, dict[int, int]] = {p.id: {} for p in await self.picks(round_id)}
        stmt = (
            select(GroupVote.pick_id, GroupVote.user_id, GroupVote.vote)
            .join(GroupPick, GroupPick.id == GroupVote.pick_id)
            .where(GroupPick.round_id == round_id)
        )
        for pick_id, user_id, vote in await self.session.execute(stmt):
            result[pick_id][user_id] = vote
        return result

    async def remove_votes(self, round_id: int, user_id: int) -> None:
        """Drop a member's votes in a round (they left mid-round)."""
        picks = select(GroupPick.id).where(GroupPick.round_id == round_id).scalar_subquery()
        await self.session.execute(
            delete(GroupVote).where(GroupVote.user_id == user_id, GroupVote.pick_id.in_(picks))
        )

    async def overdue_rounds(self, grace: dt.timedelta = dt.timedelta(minutes=1)) -> list[int]:
        """Rounds still voting more than `grace` after their deadline (their closing job was
        lost): the periodic sweep queues it again."""
        stmt = select(GroupRound.id).where(
            GroupRound.status == "voting", GroupRound.deadline < func.now() - grace
        )
        return list(await self.session.scalars(stmt))

    async def recent_tmdb_ids(self, group_id: int, window: dt.timedelta) -> set[int]:
        """Films shown to the group within `window`."""
        stmt = (
            select(GroupPick.tmdb_id)
            .join(GroupRound, GroupRound.id == GroupPick.round_id)
            .where(GroupRound.group_id == group_id, GroupPick.created_at >= func.now() - window)
        )
        return set(await self.session.scalars(stmt))
