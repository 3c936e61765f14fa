"""Inline mode and the film deep link.

- `@bot <title>` in any chat (an inline query, no chat of its own): up to ten films; chosen,
  one posts the film's card with a "Get picks like this" button (`t.me/<bot>?start=film_<id>`).
  An empty query offers the user's latest picks, personal and barely cached.
- `/start film_<id>` opens that film's card in the private chat, with 📝 Review, 🔖 Save and
  🔁 More like this.
  A broken or unknown id gets an apology and the usual welcome.

Registered before `commands.router`, so the plain /start (and `/start together`) goes on there.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineQuery, LinkPreviewOptions, Message

from bot import inline_ui, texts
from bot.cards import CardStyle
from bot.filters import with_message
from bot.flows.review import start_for_film
from bot.inline_ui import CardReview
from bot.settings import Settings
from db.models import User
from domain.catalog import CatalogService
from domain.inline import InlineResults, InlineService
from domain.profile import ProfileService
from domain.reviews import ReviewService

router = Router(name=__name__)

#: Seconds Telegram may serve an inline answer from its cache: a full title search for long
#: (the same for everyone), a stand-in answer (catalog only while TMDB is configured) or the
#: user's own picks (they change with every /recommend) briefly.
CACHE_FULL = 300
CACHE_PARTIAL = 5


def _cache_time(found: InlineResults) -> int:
    return CACHE_FULL if found.complete and not found.personal else CACHE_PARTIAL


@router.inline_query()
async def inline_films(
    query: InlineQuery, user: User, bot: Bot, settings: Settings, inline_films: InlineService
) -> None:
    found = await inline_films.films_for(user.id, query.query)
    me = await bot.me()
    style = CardStyle.from_settings(settings, online=inline_films.catalog.online)
    await query.answer(
        inline_ui.results(found.films, me.username or "", style.image_base_url),
        cache_time=_cache_time(found),
        is_personal=found.personal,
        button=inline_ui.open_bot_button(found.personal) if not found.films else None,
    )


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(inline_ui.FILM_PAYLOAD)))
async def open_film(
    message: Message, command: CommandObject, user: User, inline_films: InlineService, profile: ProfileService
) -> None:
    tmdb_id = inline_ui.parse_film_payload(command.args)
    film = await inline_films.film(tmdb_id) if tmdb_id is not None else None
    if film is None:
        await message.answer(inline_ui.unknown_film())
        await message.answer(texts.welcome(user.first_name, await profile.summary(user.id)))
        return
    await message.answer(
        inline_ui.card_text(film),
        reply_markup=inline_ui.card_keyboard(film.tmdb_id),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


@router.callback_query(CardReview.filter(), with_message)
async def review_film(
    callback: CallbackQuery,
    callback_data: CardReview,
    message: Message,
    user: User,
    state: FSMContext,
    catalog: CatalogService,
    reviews: ReviewService,
) -> None:
    """📝: the review flow for that film (its rating question)."""
    film = (await catalog.known([callback_data.tmdb_id])).get(callback_data.tmdb_id)
    if film is None:  # forged: the card's film is in the catalog
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer()
    await state.set_data({})  # a new review, whatever flow was open
    await start_for_film(message, state, film, reviews, catalog, user)
