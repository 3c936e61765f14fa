"""Watch together: rounds of group picks in a group chat, and the votes that choose one film.

A round (`group_rounds`) starts with /together: the members who /join'ed the group before and
the one who started it are in; others tap 🙋. With at least MIN_MEMBERS in, 🎬 Pick (or
/together again) ranks films for the group (`recommender.group`) and the round turns to
voting: each member votes 👍/👎 on each of the three picks (one vote per member and pick, a
new tap replaces it). When every member has voted on every pick, or VOTE_TIMEOUT after the
picks (a job, `JobQueue.close_group_round`; any tap after it also closes the round), the
winner is the pick with the most 👍 minus 👎, ties going to the higher group score.

Rules kept here, not in handlers: only a round's members pick and vote; a group never sees
anyone's ratings (reasons name people and genres only); picks are never a film any member
rated, watched or marked 🚫, nor one shown to this group within the repeat window. Taps on
one round are serialised by a row lock on the round (`GroupRepository.round_for_update`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GroupChat, GroupRound, User
from db.repositories.films import FilmRepository
from db.repositories.groups import GroupRepository, MemberRow, NewGroupPick
from db.repositories.library import LibraryRepository
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.group_views import (
    Card,
    Decision,
    DueDecision,
    Picks,
    Refusal,
    RoundView,
    VoteResult,
    card_of,
    card_view,
    decode_group_reasons,
    display_name,
    encode_group_reasons,
    member_view,
)
from domain.ports import JobQueue
from domain.recommendations import RecommendationService
from recommender import FilmFeatures
from recommender.group import MemberTaste, group_picks

log = structlog.get_logger(__name__)

#: Fewest members a round needs before it picks.
MIN_MEMBERS = 2
#: Candidates taken from the top of each member's own ranking into the group's shared pool.
POOL_PER_MEMBER = 150


class GroupService:
    """`recommendations` ranks each member (None: a worker that only closes rounds; picking
    then raises RuntimeError); `catalog` gives the films' details for the cards."""

    def __init__(
        self,
        session: AsyncSession,
        catalog: CatalogService,
        jobs: JobQueue,
        *,
        recommendations: RecommendationService | None,
        vote_timeout: dt.timedelta,
        repeat_window: dt.timedelta,
    ) -> None:
        self.session = session
        self.catalog = catalog
        self.groups = GroupRepository(session)
        self.library = LibraryRepository(session)
        self.films = FilmRepository(session)
        self.recommendations = recommendations
        self.jobs = jobs
        self.vote_timeout = vote_timeout
        self.repeat_window = repeat_window

    # --- the group itself ------------------------------------------------------------------------
    async def added(self, chat_id: int, title: str | None) -> None:
        """The bot was added to the group (or made a member again)."""
        await self.groups.upsert_chat(chat_id, title)
        log.info("group_added", chat_id=chat_id)

    async def removed(self, chat_id: int) -> None:
        """The bot was removed: the group is inactive and its open round cancelled."""
        await self.groups.deactivate(chat_id)
        log.info("group_removed", chat_id=chat_id)

    async def migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup with a new chat id: rounds and members move with it."""
        moved = await self.groups.migrate(old_chat_id, new_chat_id)
        log.info("group_migrated", old_chat_id=old_chat_id, new_chat_id=new_chat_id, moved=moved)

    async def set_show_names(self, chat_id: int, title: str | None, show: bool) -> None:
        group = await self.groups.upsert_chat(chat_id, title)
        await self.groups.set_show_names(group.id, show)

    # --- rounds ----------------------------------------------------------------------------------
    async def start(self, chat_id: int, title: str | None, user_id: int) -> tuple[RoundView, bool]:
        """The group's open round, or a new one (with the standing members and the starter in).
        Returns it and whether it was created now."""
        group = await self.groups.upsert_chat(chat_id, title)
        round_ = await self.groups.open_round(group.id)
        if round_ is not None:
            return await self._view(round_, group), False
        members = [*await self.groups.standing_members(group.id), user_id]
        round_ = await self.groups.create_round(group.id, members)
        log.info("group_round_started", chat_id=chat_id, round_id=round_.id, members=len(set(members)))
        return await self._view(round_, group), True

    async def set_round_message(self, round_id: int, message_id: int) -> None:
        round_ = await self.groups.round_for_update(round_id)
        if round_ is not None:
            round_.message_id = message_id

    async def join(self, chat_id: int, round_id: int, user_id: int) -> tuple[RoundView | None, bool]:
        """Put the user in a round that is still gathering people. Returns the round (None when
        it is not this group's or no longer joining) and whether they were added now."""
        loaded = await self._round_in(chat_id, round_id)
        if loaded is None or loaded[0].status != "joining":
            return None, False
        round_, group = loaded
        added = await self.groups.add_round_member(round_id, user_id)
        return await self._view(round_, group), added

    async def join_standing(self, chat_id: int, title: str | None, user_id: int) -> RoundView | None:
        """/join: the user is in this group's rounds from now on (and in the one gathering
        people now, returned)."""
        group = await self.groups.upsert_chat(chat_id, title)
        await self.groups.add_member(group.id, user_id)
        round_ = await self.groups.open_round(group.id)
        if round_ is None or round_.status != "joining":
            return None
        await self.groups.add_round_member(round_.id, user_id)
        return await self._view(round_, group)

    async def member_left(self, chat_id: int, telegram_id: int) -> Decision | None:
        """A member left the chat (or was removed): `leave` for them, if the bot knows them.
        Returns the decision when their leaving completed the vote."""
        gone = await UserRepository(self.session).by_telegram_id(telegram_id)
        if gone is None:
            return None
        _in, decision = await self.leave(chat_id, gone.id)
        return decision

    async def leave(self, chat_id: int, user_id: int) -> tuple[bool, Decision | None]:
        """/leave or leaving the chat: out of the group's rounds and of the open one (their
        votes dropped). Returns whether they were in anything, and the decision when the
        others had all voted already."""
        group = await self.groups.by_chat(chat_id)
        if group is None:
            return False, None
        was_member = await self.groups.remove_member(group.id, user_id)
        round_ = await self.groups.open_round(group.id)
        if round_ is None:
            return was_member, None
        in_round = await self.groups.remove_round_member(round_.id, user_id)
        await self.groups.remove_votes(round_.id, user_id)
        decision = None
        if round_.status == "voting":
            members = await self.groups.round_members(round_.id)
            if not members:
                round_.status = "cancelled"
                round_.decided_at = dt.datetime.now(dt.UTC)
            elif await self._all_voted(round_.id, members):
                decision = await self._decide(round_, group, timed_out=False)
        return was_member or in_round, decision

    async def pick(
        self, chat_id: int, round_id: int | None, user_id: int, *, locale: str | None = None
    ) -> Picks | Refusal:
        """Rank and store three picks for the round (`round_id`, or the group's open one) and
        open the vote. Only a member of the round may ask; it needs MIN_MEMBERS. `locale`: the
        language the round's end is announced in when its time runs out."""
        group = await self.groups.by_chat(chat_id)
        if group is None:
            return Refusal.CLOSED
        round_ = (
            await self.groups.open_round(group.id)
            if round_id is None
            else await self.groups.round_for_update(round_id)
        )
        if round_ is None or round_.group_id != group.id or round_.status not in ("joining", "voting"):
            return Refusal.CLOSED
        if round_.status == "voting":
            return Refusal.VOTING
        members = await self.groups.round_members(round_.id)
        if user_id not in {m.user_id for m in members}:
            return Refusal.NOT_IN_ROUND
        if len(members) < MIN_MEMBERS:
            return Refusal.TOO_FEW
        return await self._pick(round_, group, members, locale)

    async def another(
        self, chat_id: int, round_id: int, user_id: int, *, locale: str | None = None
    ) -> Picks | Refusal:
        """🔄 after a decided round: a new round with the same members, picking at once (the
        films shown before are excluded as recently shown)."""
        loaded = await self._round_in(chat_id, round_id)
        if loaded is None:
            return Refusal.CLOSED
        old, group = loaded
        if await self.groups.open_round(group.id) is not None:
            return Refusal.VOTING
        members = await self.groups.round_members(old.id)
        if user_id not in {m.user_id for m in members}:
            return Refusal.NOT_IN_ROUND
        if len(members) < MIN_MEMBERS:
            return Refusal.TOO_FEW
        round_ = await self.groups.create_round(group.id, [m.user_id for m in members])
        return await self._pick(round_, group, members, locale)

    async def set_card_message(self, pick_id: int, message_id: int) -> None:
        await self.groups.set_pick_message(pick_id, message_id)

    async def vote(self, chat_id: int, pick_id: int, user_id: int, vote: int) -> VoteResult | Refusal:
        """Record a member's 👍 (+1) or 👎 (−1) on a pick; ends the round when everyone has
        voted on every pick, or when the vote's time is over."""
        if vote not in (-1, 1):
            raise ValueError("a vote is +1 or -1")
        pick = await self.groups.pick(pick_id)
        if pick is None:
            return Refusal.CLOSED
        loaded = await self._round_in(chat_id, pick.round_id)
        if loaded is None:
            return Refusal.CLOSED
        round_, group = loaded
        if round_.status != "voting":
            return Refusal.CLOSED
        members = await self.groups.round_members(round_.id)
        if user_id not in {m.user_id for m in members}:
            return Refusal.NOT_IN_ROUND
        if round_.deadline is not None and round_.deadline <= dt.datetime.now(dt.UTC):
            late = await self._decide(round_, group, timed_out=True)
            return VoteResult(card_of(late.cards, pick_id), False, late)
        changed = await self.groups.vote(pick_id, user_id, vote)
        decision: Decision | None = None
        if changed and await self._all_voted(round_.id, members):
            decision = await self._decide(round_, group, timed_out=False)
        cards = decision.cards if decision else await self._cards(round_, group)
        log.info(
            "group_vote", round_id=round_.id, pick_id=pick_id, changed=changed, decided=decision is not None
        )
        return VoteResult(card_of(cards, pick_id), changed, decision)

    async def close_due(self, round_id: int) -> DueDecision | None:
        """The vote's time is over: decide the round if it is still voting (a job). None
        when there was nothing to decide (decided already, cancelled, the bot removed)."""
        round_ = await self.groups.round_for_update(round_id)
        if round_ is None or round_.status != "voting":
            return None
        group = await self.session.get(GroupChat, round_.group_id)
        assert group is not None
        if not group.active:
            return None
        decision = await self._decide(round_, group, timed_out=True)
        return DueDecision(group.telegram_chat_id, round_.locale, decision)

    async def cards(self, round_id: int) -> tuple[Card, ...]:
        round_ = await self.session.get(GroupRound, round_id)
        if round_ is None:
            return ()
        group = await self.session.get(GroupChat, round_.group_id)
        assert group is not None
        return await self._cards(round_, group)

    # --- internals ------------------------------------------------------------------------------
    async def _round_in(self, chat_id: int, round_id: int) -> tuple[GroupRound, GroupChat] | None:
        """The round, locked, if it belongs to the group of `chat_id` (a forged or stale tap
        from another chat changes nothing)."""
        group = await self.groups.by_chat(chat_id)
        if group is None:
            return None
        round_ = await self.groups.round_for_update(round_id)
        if round_ is None or round_.group_id != group.id:
            return None
        return round_, group

    async def _view(self, round_: GroupRound, group: GroupChat) -> RoundView:
        members = await self.groups.round_members(round_.id)
        return RoundView(
            round_.id,
            round_.status,
            tuple(member_view(m) for m in members),
            round_.message_id,
            group.show_names,
        )

    async def _pick(
        self, round_: GroupRound, group: GroupChat, members: list[MemberRow], locale: str | None
    ) -> Picks | Refusal:
        tastes, films = await self._rank(group, members)
        chosen = group_picks(films, tastes)
        if not chosen:
            return Refusal.NO_FILMS
        rows = await self.groups.add_picks(
            round_.id,
            [
                NewGroupPick(i, p.film.tmdb_id, p.score.score, encode_group_reasons(p.reasons))
                for i, p in enumerate(chosen, start=1)
            ],
        )
        round_.status = "voting"
        round_.locale = locale
        round_.deadline = dt.datetime.now(dt.UTC) + self.vote_timeout
        self.jobs.close_group_round(round_.id, self.vote_timeout.total_seconds())
        log.info(
            "group_picked",
            round_id=round_.id,
            members=len(members),
            candidates=len(films),
            picks=[r.tmdb_id for r in rows],
        )
        return Picks(await self._view(round_, group), await self._cards(round_, group))

    async def _rank(
        self, group: GroupChat, members: list[MemberRow]
    ) -> tuple[list[MemberTaste], list[FilmFeatures]]:
        """Each member's taste over one shared pool: the top POOL_PER_MEMBER of each member's
        own ranking, less every film any member has seen and the group's recent picks; then
        each member ranks the whole pool (two passes, so every fit is on the same films)."""
        if self.recommendations is None:
            raise RuntimeError("GroupService without recommendations cannot pick")
        seen: set[int] = set()
        for m in members:
            seen |= await self.library.seen_ids(m.user_id)
        seen |= await self.groups.recent_tmdb_ids(group.id, self.repeat_window)
        pool: dict[int, FilmFeatures] = {}
        for m in members:
            ranking = await self.recommendations.rank(m.user_id, skip_recently_shown=False)
            for scored in ranking.scored[:POOL_PER_MEMBER]:
                if scored.film.tmdb_id not in seen:
                    pool.setdefault(scored.film.tmdb_id, scored.film)
        tastes = []
        for m in members:
            ranking = await self.recommendations.rank(m.user_id, extra=list(pool), skip_recently_shown=False)
            scores = {s.film.tmdb_id: s.score for s in ranking.scored if s.film.tmdb_id in pool}
            avoided = frozenset(s.film.tmdb_id for s in ranking.scored if s.components.get("avoid", 0.0) < 0)
            tastes.append(MemberTaste(m.user_id, scores, ranking.taste, avoided))
        return tastes, list(pool.values())

    async def _cards(self, round_: GroupRound, group: GroupChat) -> tuple[Card, ...]:
        picks = await self.groups.picks(round_.id)
        votes = await self.groups.votes(round_.id)
        details = await self.catalog.get([p.tmdb_id for p in picks])
        named = {u for p in picks for r in decode_group_reasons(p.reasons) for u in r.members}
        named |= {u for by_user in votes.values() for u in by_user}
        names = await self._names(named)
        return tuple(card_view(p, details, names, votes[p.id], group.show_names) for p in picks)

    async def _names(self, user_ids: set[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await self.session.execute(
            select(User.id, User.first_name, User.telegram_id).where(User.id.in_(user_ids))
        )
        return {user_id: display_name(name, telegram_id) for user_id, name, telegram_id in rows}

    async def _all_voted(self, round_id: int, members: Sequence[MemberRow]) -> bool:
        votes = await self.groups.votes(round_id)
        return bool(votes) and all(m.user_id in by_user for by_user in votes.values() for m in members)

    async def _decide(self, round_: GroupRound, group: GroupChat, *, timed_out: bool) -> Decision:
        """The winner: most 👍 minus 👎, ties to the higher group score, then the first card."""
        cards = await self._cards(round_, group)
        votes = await self.groups.votes(round_.id)
        winner = max(
            cards,
            key=lambda c: (sum(votes[c.pick_id].values()), c.score, -c.position),
        )
        round_.status = "decided"
        round_.winner_pick_id = winner.pick_id
        round_.decided_at = dt.datetime.now(dt.UTC)
        voters = len({u for by_user in votes.values() for u in by_user})
        log.info(
            "group_decided",
            round_id=round_.id,
            winner=winner.film.tmdb_id,
            timed_out=timed_out,
            voters=voters,
        )
        return Decision(round_.id, winner, cards, timed_out, voters)
