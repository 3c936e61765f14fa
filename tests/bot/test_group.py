"""Watch together in a group chat, through the dispatcher: rounds, picks none of the members
has seen, reasons naming members (never ratings), votes, ties, timeouts, leaving, privacy."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import procrastinate
import pytest
from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import jobs
from bot.handlers.group import PRIVATE_COMMANDS
from bot.service import BOT_COMMANDS, GROUP_COMMANDS
from bot.together import VotePick
from db.models import GroupChat, GroupPick, GroupRound, GroupVote
from db.repositories.library import LibraryRepository
from db.repositories.users import UserRepository
from integrations.embeddings import LocalEmbedder
from tests.bot.conftest import BotHarness, GroupChatHarness, make_harness

# Anna loves science fiction and horror, Ben science fiction and action; Chris loves comedy
# and romance and hates horror. (tmdb id, rating) on the demo catalog.
TASTES = {
    101: ("Anna", [(348, 5), (1091, 5), (679, 4.5), (78, 4.5), (194, 2)]),
    102: ("Ben", [(603, 5), (27205, 4.5), (11, 5), (949, 4), (76, 2)]),
    103: ("Chris", [(194, 5), (137, 5), (120467, 4.5), (948, 1), (694, 1), (539, 1)]),
}
MEMBERS = {tg: name for tg, (name, _) in TASTES.items()}
HORROR = {348, 8077, 8078, 1091, 419430, 694, 948, 493922, 396535, 539}


async def seed_members(harness: BotHarness) -> dict[int, int]:
    """Telegram id → users.id, each member with their ratings (no private chat yet)."""
    ids = {}
    async with harness.session_factory() as session:
        for tg, (name, ratings) in TASTES.items():
            user = await UserRepository(session).upsert(tg, first_name=name, language_code="en")
            for tmdb_id, rating in ratings:
                await LibraryRepository(session).rate(user.id, tmdb_id, Decimal(str(rating)), source="bot")
            ids[tg] = user.id
        await session.commit()
    return ids


@pytest.fixture
async def club(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    async for harness in make_harness(dispatcher, session_factory, group_vote_minutes=10):
        await seed_members(harness)
        yield harness


async def picked(group: GroupChatHarness, *, names: bool = False) -> list[Message]:
    """/together, Ben and Chris join, Anna picks: the three cards, first card first."""
    assert "/together" in (await group.added(by=101))[0]
    await group.say(101, "/together names" if names else "/together")
    await group.tap(102, "I'm in")
    await group.tap(103, "I'm in")
    await group.tap(101, "Pick")
    cards = group.keyboard_messages()[:3][::-1]
    assert len(cards) == 3 and all("👍" in (c.text or "") for c in cards)
    return cards


async def stored_picks(harness: BotHarness) -> list[GroupPick]:
    async with harness.session_factory() as session:
        return list(await session.scalars(select(GroupPick).order_by(GroupPick.id)))


def seen_by_anyone() -> set[int]:
    return {tmdb_id for _, ratings in TASTES.values() for tmdb_id, _ in ratings}


async def test_a_round_from_together_to_the_winner(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    assert "/together" in (await group.added(by=101))[0]
    started = await group.say(101, "/together")
    assert "In: Anna" in started[-1]
    assert "I'm in" in str(group.keyboard_messages()[0].reply_markup)
    out = await group.tap(102, "I'm in")
    assert out[0].startswith("You're in!") and "In: Anna and Ben" in out[-1]
    assert (await group.tap(102, "I'm in"))[0] == "You're already in."
    await group.tap(103, "I'm in")
    out = await group.tap(101, "Pick")
    assert "Picks for Anna, Ben and Chris" in "\n".join(out)

    picks = await stored_picks(club)
    assert len(picks) == 3
    assert not {p.tmdb_id for p in picks} & seen_by_anyone()
    # least misery: Chris hates horror, so no horror film makes the three
    assert not {p.tmdb_id for p in picks} & HORROR
    card_texts = [t for t in out if "👍 0 · 👎 0" in t]
    assert len(card_texts) == 3
    assert any(name in "\n".join(card_texts) for name in MEMBERS.values())
    assert all("★" not in t for t in group.texts())  # nobody's ratings in the group

    cards = group.keyboard_messages()[:3][::-1]
    votes = {101: ("👍", "👎", "👎"), 102: ("👍", "👍", "👎"), 103: ("👎", "👍", "👎")}
    last: list[str] = []
    for member, choice in votes.items():
        for card, label in zip(cards, choice, strict=True):
            last = await group.tap(member, label, message=card)
    announcement = last[-1]
    assert announcement.startswith("🏆 Everyone has voted!")
    # cards 1 and 2 tie at +1; the higher group score wins
    winner = max(picks[:2], key=lambda p: p.score)
    assert f"https://letterboxd.com/tmdb/{winner.tmdb_id}/" in announcement
    async with club.session_factory() as session:
        round_ = await session.scalar(select(GroupRound))
        assert round_ is not None and round_.status == "decided" and round_.winner_pick_id == winner.id
    # the cards lost their buttons; a late vote changes nothing
    assert all(m.reply_markup is None or "👍" not in str(m.reply_markup) for m in group.keyboard_messages())
    late = await group.tap_data(101, VotePick(pick_id=picks[2].id, vote=1).pack(), message=cards[2])
    assert late[0] == "This round is over."


async def test_a_vote_counts_once_can_change_and_shows_names_only_when_asked(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    cards = await picked(group, names=True)
    out = await group.tap(101, "👍", message=cards[0])
    assert out[0] == "Vote noted." and out[-1].splitlines()[-1] == "👍 Anna · 👎 —"
    await group.tap(101, "👍", message=cards[0])  # the same again: still one vote
    out = await group.tap(101, "👎", message=cards[0])
    assert out[-1].splitlines()[-1] == "👍 — · 👎 Anna"
    async with club.session_factory() as session:
        assert len(list(await session.scalars(select(GroupVote)))) == 1
    await group.say(101, "/together counts")
    other = club.group(-100555, "Other club", members=MEMBERS)
    other_cards = await picked(other)
    out = await other.tap(102, "👍", message=other_cards[1])
    assert out[-1].splitlines()[-1] == "👍 1 · 👎 0"  # counts, no names


async def test_only_members_of_the_round_vote_and_only_chat_members_join(club: BotHarness) -> None:
    group = club.group(members={**MEMBERS, 104: "Dana"})
    cards = await picked(group)
    out = await group.tap(104, "👍", message=cards[0])  # in the chat, not in the round
    assert out[0].startswith("Only people in this round")
    async with club.session_factory() as session:
        assert list(await session.scalars(select(GroupVote))) == []
    # a stranger (not in the chat) cannot join a round
    second = club.group(-100777, "Second", members={101: "Anna", 105: "Eve"})
    await second.added(by=101)
    await second.say(101, "/together")
    second.session.set_chat_member(second.chat_id, 105, "left")
    out = await second.tap(105, "I'm in")
    assert out[0] == "Only members of this group can join."
    # a forged vote on another group's pick changes nothing there
    picks = await stored_picks(club)
    forged = await second.tap_data(
        101, VotePick(pick_id=picks[0].id, vote=1).pack(), message=second.keyboard_messages()[0]
    )
    assert forged[0] == "This round is over."
    async with club.session_factory() as session:
        assert list(await session.scalars(select(GroupVote))) == []


async def test_a_member_leaving_mid_round_lets_the_others_finish(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    cards = await picked(group)
    for member in (101, 102):
        for card in cards:
            await group.tap(member, "👍" if card is cards[1] else "👎", message=card)
    out = await group.left(103)
    assert out[-1].startswith("🏆 Everyone has voted!")
    picks = await stored_picks(club)
    assert f"/tmdb/{picks[1].tmdb_id}/" in out[-1]


async def test_the_vote_ends_at_its_deadline(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    cards = await picked(group)
    await group.tap(101, "👍", message=cards[2])
    async with club.session_factory() as session:
        await session.execute(
            update(GroupRound).values(deadline=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()
    out = await group.tap(102, "👍", message=cards[0])
    assert out[-1].startswith("⏰ Time's up! Tonight's film:")
    picks = await stored_picks(club)
    assert f"/tmdb/{picks[2].tmdb_id}/" in out[-1]  # 101's 👍 counted; 102's came too late


async def test_the_timeout_job_announces_the_winner(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession], job_app: procrastinate.App
) -> None:
    async for harness in make_harness(dispatcher, session_factory, group_vote_minutes=0.002):
        await seed_members(harness)
        harness.overrides["job_app"] = job_app
        group = harness.group(members=MEMBERS)
        await picked(group)
        await asyncio.sleep(0.3)  # past the 0.12 s deadline: the job is due
        before = len(group.texts())
        await jobs.drain(
            job_app, harness.session_factory, LocalEmbedder(), bot=harness.bot, queues=[jobs.USER_QUEUE]
        )
        announced = group.texts()[before:]
        assert announced[-1].startswith("⏰ Time's up and nobody voted")
        picks = await stored_picks(harness)
        best = max(picks, key=lambda p: p.score)
        assert f"/tmdb/{best.tmdb_id}/" in announced[-1]


async def test_another_round_excludes_what_the_group_was_shown(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    cards = await picked(group)
    for member in MEMBERS:
        for card in cards:
            await group.tap(member, "👍", message=card)
    first = {p.tmdb_id for p in await stored_picks(club)}
    await group.tap(102, "Another round")
    second = {p.tmdb_id for p in await stored_picks(club)} - first
    assert len(second) == 3 and not second & first and not second & seen_by_anyone()


async def test_private_things_stay_private(club: BotHarness) -> None:
    group = club.group(members=MEMBERS)
    await group.added(by=101)
    for command in ("/profile", "/export", "/forget", "/import", "/recommend", "/review"):
        out = await group.say(101, command)
        assert out == ["Let's do that in private: your ratings stay between us."]
        markup = group.session.last_message(group.chat_id)
        assert markup is not None and "start=together" in str(markup.reply_markup)
    assert await group.say(101, "/profile@another_bot") == []
    assert await group.say(101, "/stats") == []  # unknown here: no answer in a group
    assert await group.say(101, "what shall we watch?") == []
    # someone who never wrote to the bot privately is sent there by the 🙋 answer
    await group.say(101, "/together")
    await group.tap(102, "I'm in")
    answer = list(group.session.callback_answers.values())[-1]
    assert answer.url is not None and answer.url.endswith("?start=together")
    await group.private(103).say("/start")
    await group.tap(103, "I'm in")
    assert list(group.session.callback_answers.values())[-1].url is None


async def test_removed_migrated_and_standing_members(club: BotHarness) -> None:
    group = club.group(members=MEMBERS, type="group")
    await group.added(by=101)
    assert "in this group's rounds from now on" in (await group.say(102, "/join"))[0]
    await group.migrate(-100999)
    out = await group.say(101, "/together")
    assert "In: Anna and Ben" in out[-1]  # the standing member (Ben) moved with the group
    async with club.session_factory() as session:
        chats = list(await session.scalars(select(GroupChat)))
        assert [c.telegram_chat_id for c in chats] == [-100999]
    await group.removed(by=101)
    async with club.session_factory() as session:
        chat = await session.scalar(select(GroupChat))
        round_ = await session.scalar(select(GroupRound))
        assert chat is not None and not chat.active
        assert round_ is not None and round_.status == "cancelled"
    assert "out of this group's rounds" in (await group.say(102, "/leave"))[0]


async def test_a_vote_whose_closing_job_was_lost_is_closed_by_the_sweep(
    club: BotHarness, job_app: procrastinate.App
) -> None:
    group = club.group(members=MEMBERS)
    await picked(group)  # no job queue in the harness: the closing job is never deferred
    async with club.session_factory() as session:
        await session.execute(
            update(GroupRound).values(deadline=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )
        await session.commit()
    assert await jobs.queue_overdue_rounds(job_app, club.session_factory) == 1
    before = len(group.texts())
    await jobs.drain(job_app, club.session_factory, LocalEmbedder(), bot=club.bot, queues=[jobs.USER_QUEUE])
    assert group.texts()[before:][-1].startswith("⏰ Time's up and nobody voted")
    assert await jobs.queue_overdue_rounds(job_app, club.session_factory) == 0


def test_every_private_menu_command_is_sent_to_the_private_chat_from_a_group() -> None:
    private = {command for command, _ in BOT_COMMANDS} - {"help"}
    assert private <= set(PRIVATE_COMMANDS)
    assert not set(PRIVATE_COMMANDS) & {command for command, _ in GROUP_COMMANDS}
