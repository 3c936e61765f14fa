"""What the bot says and shows in a group watching together (/together): texts, buttons and
the messages of a round. Used by the group handlers (bot/handlers/group.py) and by the job
that closes a vote whose time ran out (bot/jobs/tasks.py).

Nothing here shows a rating, review or profile of anyone: a card names members and genres
(`recommender.group` decides which, by written rules) and counts votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from pydantic import Field

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import DbId
from bot.texts import film_line, genre_name
from domain.group_views import Card, Decision, Member, Refusal
from domain.groups import MIN_MEMBERS
from recommender.group import GroupReason, GroupReasonKind

#: Deep-link payload of "open a private chat" buttons (t.me/<bot>?start=<payload>).
START_FROM_GROUP = "together"
#: A vote: 👍 or 👎.
Vote = Annotated[int, Field(ge=-1, le=1)]


class JoinRound(CallbackData, prefix="gj"):
    """🙋 I'm in, under a round's message."""

    round_id: DbId


class PickRound(CallbackData, prefix="gp"):
    """🎬 Pick, under a round's message."""

    round_id: DbId


class VotePick(CallbackData, prefix="gv"):
    """👍 (+1) or 👎 (−1) under a group pick."""

    pick_id: DbId
    vote: Vote


class AnotherRound(CallbackData, prefix="ga"):
    """🔄 Another round, under the winner's announcement."""

    round_id: DbId


def deep_link(bot_username: str | None, payload: str = START_FROM_GROUP) -> str:
    """https://t.me/<bot>?start=<payload> (Telegram's deep linking; payload [A-Za-z0-9_-]{1,64})."""
    return f"https://t.me/{bot_username}?start={payload}"


# --- texts ------------------------------------------------------------------------------------
def names_list(names: Sequence[str]) -> str:
    """'Anna', 'Anna and Ben', 'Anna, Ben and Chris' (escaped)."""
    quoted = [hd.quote(n) for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return _("{first} and {last}").format(first=", ".join(quoted[:-1]), last=quoted[-1])


def greeting() -> str:
    return _(
        "Hi! I help you choose a film to watch together.\n"
        "/together starts a round: everyone taps 🙋, then I pick three films none of you has seen "
        "and you vote. /join puts you in every round, /leave takes you out.\n"
        "I never show anyone's ratings here."
    )


def group_help() -> str:
    return _(
        "/together — start a round (then 🙋 I'm in, 🎬 Pick, and vote)\n"
        "/together names — votes show who voted; /together counts — only counts\n"
        "/join — be in every round of this group\n"
        "/leave — stop being in this group's rounds\n"
        "Everything else (rating films, your profile, imports) happens in a private chat with me."
    )


def round_text(members: Sequence[Member]) -> str:
    names = names_list([m.name for m in members]) if members else _("nobody yet")
    return _(
        "🍿 Let's choose a film together!\n"
        "Tap 🙋 I'm in, then 🎬 Pick when everyone is here (at least {min}).\n\n"
        "In: {names}"
    ).format(min=MIN_MEMBERS, names=names)


def round_voting_text(members: Sequence[Member], minutes: float) -> str:
    return _(
        "🍿 Picks for {names}.\n"
        "Vote 👍 or 👎 on each film: the winner is announced when everyone has voted, "
        "or in {minutes} min."
    ).format(names=names_list([m.name for m in members]), minutes=f"{minutes:g}")


def group_reason_text(reason: GroupReason, names: dict[int, str]) -> str:
    """One group reason as a sentence (rules: recommender.group.GroupReasonKind)."""
    people = names_list([names.get(m, "?") for m in reason.members])
    genre = hd.quote(genre_name(reason.genre)) if reason.genre else ""
    match reason.kind:
        case GroupReasonKind.FITS:
            if genre:
                return _("Fits {people}'s love of {genre}.").format(people=people, genre=genre)
            return _("A strong match for {people}.").format(people=people)
        case GroupReasonKind.LIKES_GENRE:
            return _("{person} likes {genre}.").format(person=people, genre=genre)
        case GroupReasonKind.SAFE_MIDDLE:
            return _("A safe middle: nobody here dislikes {genre}.").format(genre=genre)
        case GroupReasonKind.WELL_RATED:
            return _("Rated {score}/10 on TMDB.").format(score=reason.value)
        case GroupReasonKind.POPULAR:
            return _("A popular choice.")
    return ""  # pragma: no cover - every kind is handled above


def votes_line(card: Card) -> str:
    if card.show_names:
        up = names_list(card.up) if card.up else "—"
        down = names_list(card.down) if card.down else "—"
        return f"👍 {up} · 👎 {down}"
    return f"👍 {len(card.up)} · 👎 {len(card.down)}"


def card_text(card: Card) -> str:
    reasons = " ".join(group_reason_text(r, card.names) for r in card.reasons)
    return f"{card.position}. {film_line(card.film)}\n{reasons}\n{votes_line(card)}"


def letterboxd_url(tmdb_id: int) -> str:
    """Letterboxd's page for a TMDB id (letterboxd.com/tmdb/<id>/ redirects to the film)."""
    return f"https://letterboxd.com/tmdb/{tmdb_id}/"


def decision_text(decision: Decision) -> str:
    winner = decision.winner
    if decision.voters == 0:
        head = _("⏰ Time's up and nobody voted, so I chose the best fit for the group:")
    elif decision.timed_out:
        head = _("⏰ Time's up! Tonight's film:")
    else:
        head = _("🏆 Everyone has voted! Tonight's film:")
    return f"{head}\n{film_line(winner.film)}\n{votes_line(winner)}\n{letterboxd_url(winner.film.tmdb_id)}"


def refusal_text(refusal: Refusal) -> str:
    return {
        Refusal.NOT_IN_ROUND: _("Only people in this round can do that: tap 🙋 I'm in on the next one."),
        Refusal.NOT_A_MEMBER: _("Only members of this group can join."),
        Refusal.TOO_FEW: _("I need at least {min} people in: tap 🙋 I'm in.").format(min=MIN_MEMBERS),
        Refusal.CLOSED: _("This round is over."),
        Refusal.NO_FILMS: _(
            "I couldn't find a film none of you has seen. Rate a few more in private and try again."
        ),
        Refusal.VOTING: _("A vote is open: vote 👍 or 👎 on the films above."),
    }[refusal]


def joined() -> str:
    return _("You're in!")


def joined_open_private() -> str:
    return _("You're in! Open a private chat with me and rate a few films, so the picks fit you too.")


def already_in() -> str:
    return _("You're already in.")


def vote_noted() -> str:
    return _("Vote noted.")


def standing_joined(name: str) -> str:
    return _("{name} is in this group's rounds from now on (/leave to stop).").format(name=hd.quote(name))


def standing_left(name: str) -> str:
    return _("{name} is out of this group's rounds.").format(name=hd.quote(name))


def not_in_rounds() -> str:
    return _("You weren't in this group's rounds.")


def names_shown(show: bool) -> str:
    return _("Votes show who voted from now on.") if show else _("Votes show only counts from now on.")


def in_private_only() -> str:
    return _("Let's do that in private: your ratings stay between us.")


def open_private_button() -> str:
    return _("💬 Open a private chat")


# --- keyboards ---------------------------------------------------------------------------------
def round_keyboard(round_id: int, bot_username: str | None) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text=_("🙋 I'm in"), callback_data=JoinRound(round_id=round_id))
    kb.button(text=_("🎬 Pick"), callback_data=PickRound(round_id=round_id))
    if bot_username:
        kb.button(text=_("💬 Rate films in private"), url=deep_link(bot_username))
    kb.adjust(2, 1)
    return kb.as_markup()


def vote_keyboard(pick_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text="👍", callback_data=VotePick(pick_id=pick_id, vote=1))
    kb.button(text="👎", callback_data=VotePick(pick_id=pick_id, vote=-1))
    return kb.as_markup()


def another_keyboard(round_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text=_("🔄 Another round"), callback_data=AnotherRound(round_id=round_id))
    return kb.as_markup()


def private_keyboard(bot_username: str | None) -> InlineKeyboardMarkup | None:
    if not bot_username:
        return None
    kb = InlineKeyboard()
    kb.button(text=open_private_button(), url=deep_link(bot_username))
    return kb.as_markup()


# --- messages ------------------------------------------------------------------------------------
async def edit_card(bot: Bot, chat_id: int, card: Card, *, open_vote: bool) -> None:
    """Show a card's counts now (with its 👍/👎 while the vote is open). An unchanged card or
    a deleted message is not an error."""
    if card.message_id is None:
        return
    markup = vote_keyboard(card.pick_id) if open_vote else None
    await edit_in_group(bot, chat_id, card.message_id, card_text(card), markup)


async def edit_in_group(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Edit one of the bot's group messages. Members tap at once, so an edit that changes
    nothing, or one of a message someone deleted, is expected and not an error."""
    try:
        await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message and "message to edit not found" not in exc.message:
            raise


async def announce(bot: Bot, chat_id: int, decision: Decision) -> None:
    """Close every card (final counts, no buttons) and announce the winner."""
    for card in decision.cards:
        await edit_card(bot, chat_id, card, open_vote=False)
    await bot.send_message(chat_id, decision_text(decision), reply_markup=another_keyboard(decision.round_id))
