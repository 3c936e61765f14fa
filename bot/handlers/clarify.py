"""The clarifying question /recommend may ask first (see `domain.clarify`), and showing picks
with their explanations (`domain.explanations`).

The question's options and 🎬 Just recommend are buttons; a tap recommends with the answer
folded in (this answer only) and leaves the flow. The FSM data remembers the question (its
kind and options) and the id of its message: taps on any other message, and option indexes
that were never offered, get "no longer valid". Outside the flow the taps reach the catch-all.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import keyboards, texts
from bot.cards import CardStyle
from bot.filters import with_message
from bot.flows.onboarding import send_explained_picks
from bot.keyboards import ClarifyAnswer, ClarifySkip, remove_keyboard
from bot.metrics import Metrics
from db.models import User
from domain.clarify import ClarifyService, Question, QuestionKind
from domain.explanations import ExplanationService

router = Router(name=__name__)


class ClarifyFlow(StatesGroup):
    asked = State()  # the question is shown: an answer or 🎬 Just recommend leaves


async def ask_question(message: Message, state: FSMContext, question: Question) -> None:
    """Show the question with its buttons and enter the flow."""
    labels = [texts.clarify_option(question.kind, option) for option in question.options]
    sent = await message.answer(
        texts.clarify_question(question.kind), reply_markup=keyboards.clarify_keyboard(labels)
    )
    await state.set_state(ClarifyFlow.asked)
    await state.set_data(
        {"message_id": sent.message_id, "kind": question.kind.value, "options": list(question.options)}
    )


@router.callback_query(ClarifyFlow.asked, or_f(ClarifyAnswer.filter(), ClarifySkip.filter()), with_message)
async def answered(
    callback: CallbackQuery,
    callback_data: ClarifyAnswer | ClarifySkip,
    message: Message,
    user: User,
    state: FSMContext,
    i18n: I18n,
    clarify: ClarifyService,
    explanations: ExplanationService,
    cards: CardStyle,
    metrics: Metrics,
) -> None:
    """An option, or 🎬 Just recommend (no preference), of the question shown in `message`."""
    data = await state.get_data()
    if data.get("message_id") != message.message_id:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    question = Question(QuestionKind(data["kind"]), tuple(data["options"]))
    index = callback_data.index if isinstance(callback_data, ClarifyAnswer) else None
    # recommend first: if TMDB fails, the question and the flow stay for another tap
    result = await clarify.answer(user.id, question, index)
    if result is None:  # an option that was never offered (forged data)
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await state.clear()
    await callback.answer()
    await remove_keyboard(message)
    await send_explained_picks(message, result, user.id, explanations, i18n.current_locale, cards=cards)
    metrics.served(result.picks)


@router.message(ClarifyFlow.asked, F.text)
async def text_while_asked(message: Message) -> None:
    """Text while the question is shown (commands leave the flow first)."""
    await message.answer(texts.clarify_use_buttons())
