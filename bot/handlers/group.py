"""Group and supergroup chats: watch together (/together, /join, /leave, 🙋, 🎬, 👍/👎, 🔄),
the bot being added or removed (`my_chat_member`), members leaving, and a group migrating to
a supergroup. Every other command in a group gets "let's do that in private" with a deep link:
a group never sees anyone's ratings, reviews, profile or imports.

Registered before every other router, so nothing meant for private chats runs in a group.
Works with privacy mode on: it needs only commands, button taps and service messages.
"""

from __future__ import annotations

import structlog
from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter, Command, CommandObject
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import I18n

from bot import together
from bot.filters import with_message
from bot.settings import Settings
from bot.together import AnotherRound, JoinRound, PickRound, VotePick
from db.models import User
from domain.group_views import Picks, Refusal, RoundView, display_name
from domain.groups import GroupService

log = structlog.get_logger(__name__)

router = Router(name=__name__)
GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}
router.message.filter(F.chat.type.in_(GROUPS))
router.callback_query.filter(F.message.chat.type.in_(GROUPS))
router.my_chat_member.filter(F.chat.type.in_(GROUPS))

#: Commands of the private chat (the private menu, bot.service.BOT_COMMANDS, and /start's
#: neighbours): in a group they answer "let's do that in private".
PRIVATE_COMMANDS = (
    "recommend",
    "review",
    "similar",
    "watchlist",
    "ratings",
    "settings",
    "country",
    "services",
    "avoid",
    "import",
    "profile",
    "export",
    "forget",
    "language",
    "myid",
    "cancel",
)
#: Statuses of someone in the chat (getChatMember); "restricted" counts while `is_member`.
IN_CHAT = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


# --- the bot joins and leaves; the group changes ------------------------------------------------
@router.my_chat_member(ChatMemberUpdatedFilter(JOIN_TRANSITION))
async def bot_added(event: ChatMemberUpdated, groups: GroupService) -> None:
    await groups.added(event.chat.id, event.chat.title)
    await event.answer(together.greeting())


@router.my_chat_member(ChatMemberUpdatedFilter(LEAVE_TRANSITION))
async def bot_removed(event: ChatMemberUpdated, groups: GroupService) -> None:
    await groups.removed(event.chat.id)


@router.message(F.migrate_to_chat_id)
async def migrated_to(message: Message, groups: GroupService) -> None:
    assert message.migrate_to_chat_id is not None
    await groups.migrated(message.chat.id, message.migrate_to_chat_id)


@router.message(F.migrate_from_chat_id)
async def migrated_from(message: Message, groups: GroupService) -> None:
    assert message.migrate_from_chat_id is not None
    await groups.migrated(message.migrate_from_chat_id, message.chat.id)


@router.message(F.left_chat_member)
async def member_left(message: Message, bot: Bot, groups: GroupService) -> None:
    """A member left (or was removed): out of the rounds; their leaving may end a vote."""
    assert message.left_chat_member is not None
    decision = await groups.member_left(message.chat.id, message.left_chat_member.id)
    if decision is not None:
        await together.announce(bot, message.chat.id, decision)


# --- commands ----------------------------------------------------------------------------------
@router.message(Command("together"), flags={"chat_action": "typing"})
async def together_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    user: User,
    groups: GroupService,
    settings: Settings,
    i18n: I18n,
) -> None:
    """/together starts a round, or picks in the one gathering people; `names` / `counts`
    choose how votes are shown first."""
    option = (command.args or "").strip().casefold()
    if option in ("names", "counts"):
        await groups.set_show_names(message.chat.id, message.chat.title, option == "names")
        await message.answer(together.names_shown(option == "names"))
    view, created = await groups.start(message.chat.id, message.chat.title, user.id)
    if created or (view.status == "joining" and len(view.members) < 2):
        await _post_round(message, bot, view, groups)
        return
    if view.status == "voting":
        await message.answer(together.refusal_text(Refusal.VOTING))
        return
    outcome = await groups.pick(message.chat.id, view.round_id, user.id, locale=i18n.current_locale)
    await _show(message, bot, outcome, groups, settings)


@router.message(Command("join"))
async def join_command(message: Message, bot: Bot, user: User, groups: GroupService) -> None:
    view = await groups.join_standing(message.chat.id, message.chat.title, user.id)
    await message.answer(together.standing_joined(display_name(user.first_name, user.telegram_id)))
    if view is not None:
        await _refresh_round(bot, message.chat.id, view)


@router.message(Command("leave"))
async def leave_command(message: Message, bot: Bot, user: User, groups: GroupService) -> None:
    was_in, decision = await groups.leave(message.chat.id, user.id)
    name = display_name(user.first_name, user.telegram_id)
    await message.answer(together.standing_left(name) if was_in else together.not_in_rounds())
    if decision is not None:
        await together.announce(bot, message.chat.id, decision)


@router.message(Command("help", "start"))
async def group_help(message: Message) -> None:
    await message.answer(together.group_help())


@router.message(Command(*PRIVATE_COMMANDS))
async def private_only(message: Message, bot: Bot) -> None:
    """A command of the private chat: "let's do that in private" with a deep link. (Command
    ignores /cmd@otherbot: it is another bot's. Unknown commands get no answer in a group.)"""
    me = await bot.me()
    await message.answer(together.in_private_only(), reply_markup=together.private_keyboard(me.username))


@router.message()
async def ignore(message: Message) -> None:
    """Anything else said in a group is not for the bot (privacy mode delivers little else)."""


# --- buttons ---------------------------------------------------------------------------------------
@router.callback_query(JoinRound.filter(), with_message)
async def join_round(
    callback: CallbackQuery,
    callback_data: JoinRound,
    message: Message,
    bot: Bot,
    user: User,
    groups: GroupService,
) -> None:
    if not await _in_chat(bot, message.chat.id, user.telegram_id):
        await callback.answer(together.refusal_text(Refusal.NOT_A_MEMBER), show_alert=True)
        return
    view, added = await groups.join(message.chat.id, callback_data.round_id, user.id)
    if view is None:
        await callback.answer(together.refusal_text(Refusal.CLOSED))
        return
    if not added:
        await callback.answer(together.already_in())
        return
    if user.private_since is None:  # never wrote to the bot: open the private chat (deep link)
        me = await bot.me()
        await callback.answer(together.joined_open_private(), url=together.deep_link(me.username))
    else:
        await callback.answer(together.joined())
    await _refresh_round(bot, message.chat.id, view)


@router.callback_query(PickRound.filter(), with_message, flags={"chat_action": "typing"})
async def pick_round(
    callback: CallbackQuery,
    callback_data: PickRound,
    message: Message,
    bot: Bot,
    user: User,
    groups: GroupService,
    settings: Settings,
    i18n: I18n,
) -> None:
    outcome = await groups.pick(message.chat.id, callback_data.round_id, user.id, locale=i18n.current_locale)
    if isinstance(outcome, Refusal):
        await callback.answer(together.refusal_text(outcome), show_alert=outcome is Refusal.NOT_IN_ROUND)
        return
    await callback.answer()
    await _show(message, bot, outcome, groups, settings)


@router.callback_query(VotePick.filter(F.vote != 0), with_message)
async def vote(
    callback: CallbackQuery,
    callback_data: VotePick,
    message: Message,
    bot: Bot,
    user: User,
    groups: GroupService,
) -> None:
    outcome = await groups.vote(message.chat.id, callback_data.pick_id, user.id, callback_data.vote)
    if isinstance(outcome, Refusal):
        await callback.answer(together.refusal_text(outcome), show_alert=outcome is Refusal.NOT_IN_ROUND)
        return
    await callback.answer(together.vote_noted())
    if outcome.decision is not None:
        await together.announce(bot, message.chat.id, outcome.decision)
    elif outcome.changed:
        await together.edit_card(bot, message.chat.id, outcome.card, open_vote=True)


@router.callback_query(AnotherRound.filter(), with_message, flags={"chat_action": "typing"})
async def another_round(
    callback: CallbackQuery,
    callback_data: AnotherRound,
    message: Message,
    bot: Bot,
    user: User,
    groups: GroupService,
    settings: Settings,
    i18n: I18n,
) -> None:
    outcome = await groups.another(
        message.chat.id, callback_data.round_id, user.id, locale=i18n.current_locale
    )
    if isinstance(outcome, Refusal):
        await callback.answer(together.refusal_text(outcome), show_alert=outcome is Refusal.NOT_IN_ROUND)
        return
    await callback.answer()
    await _show(message, bot, outcome, groups, settings)


# --- helpers ------------------------------------------------------------------------------------------
async def _in_chat(bot: Bot, chat_id: int, telegram_id: int) -> bool:
    """Whether the user is a member of the chat now (getChatMember)."""
    try:
        member = await bot.get_chat_member(chat_id, telegram_id)
    except TelegramBadRequest:
        return False
    if member.status == ChatMemberStatus.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in IN_CHAT


async def _post_round(message: Message, bot: Bot, view: RoundView, groups: GroupService) -> None:
    me = await bot.me()
    sent = await message.answer(
        together.round_text(view.members), reply_markup=together.round_keyboard(view.round_id, me.username)
    )
    await groups.set_round_message(view.round_id, sent.message_id)


async def _refresh_round(bot: Bot, chat_id: int, view: RoundView) -> None:
    """The round's message with who is in now."""
    if view.message_id is None:
        return
    me = await bot.me()
    markup = together.round_keyboard(view.round_id, me.username)
    await together.edit_in_group(bot, chat_id, view.message_id, together.round_text(view.members), markup)


async def _show(
    message: Message, bot: Bot, outcome: Picks | Refusal, groups: GroupService, settings: Settings
) -> None:
    """Post the round's cards (each with 👍/👎), or say why there are none."""
    if isinstance(outcome, Refusal):
        await message.answer(together.refusal_text(outcome))
        return
    chat_id = message.chat.id
    text = together.round_voting_text(outcome.round.members, settings.bot.group_vote_minutes)
    if outcome.round.message_id is not None:
        try:
            await bot.edit_message_text(text=text, chat_id=chat_id, message_id=outcome.round.message_id)
        except TelegramBadRequest:
            await bot.send_message(chat_id, text)
    else:
        await bot.send_message(chat_id, text)
    for card in outcome.cards:
        sent = await bot.send_message(
            chat_id, together.card_text(card), reply_markup=together.vote_keyboard(card.pick_id)
        )
        await groups.set_card_message(card.pick_id, sent.message_id)
