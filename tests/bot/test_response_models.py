"""bot.response_models: the models aiogram parses Bot API answers with outlive a garbage
collection once the bot has called the method."""

from __future__ import annotations

import gc
import weakref

from aiogram import Bot
from aiogram.methods import GetMyName, Response
from aiogram.types import BotName

from bot.response_models import ResponseModelsMiddleware


async def test_the_answer_model_of_a_called_method_survives_garbage_collection() -> None:
    # what pydantic does on its own: nothing else holds Response[BotName], so it goes
    model = weakref.ref(Response[BotName])
    gc.collect()
    assert model() is None

    async def make_request(_bot: Bot, _method: GetMyName) -> Response[BotName]:
        return Response[BotName](ok=True, result=BotName(name="WhatToWatch"))

    middleware = ResponseModelsMiddleware()
    answer = await middleware(make_request, Bot("42:TEST"), GetMyName())  # type: ignore[arg-type]
    assert answer.result == BotName(name="WhatToWatch")

    model = weakref.ref(Response[BotName])
    del answer
    gc.collect()
    assert model() is not None  # the next GetMyName's answer is parsed without building it again
