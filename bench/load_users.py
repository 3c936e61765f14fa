"""The simulated Telegram users of the load benchmark (bench/load.py uses this module): the
update in flight (`Pending`), one user's script of updates (`user_script`) and the `User`
going round it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram_bot import FakeBot
from tests.fakes.telegram_records import Call

#: Updates that continue a flow (a tap on what the bot just sent, the review text): sent after
#: a think time of THINK_SECONDS (uniform), before the users waiting for their turn.
FOLLOW_UPS = frozenset({"tap film", "tap rating", "review text", "tap 🎬", "tap skip"})
THINK_SECONDS = (1.0, 3.0)
REVIEW_WORDS = ("tense", "moving", "slow", "funny", "gorgeous", "long", "sharp", "warm", "strange", "quiet")


@dataclass
class Pending:
    """One update in flight: when it was delivered, the calls the bot made to its chat since."""

    user: int
    kind: str
    step: int
    sent: float
    calls: list[Call] = field(default_factory=list)
    first: float | None = None
    error_text: bool = False
    ok: bool = False
    retried: bool = False
    lost: bool = False


def keyboards(calls: Iterable[Call]) -> list[dict[str, Any]]:
    """Messages with an inline keyboard among the answers, in order."""
    found = []
    for call in calls:
        result = call.result
        if call.status == 200 and isinstance(result, dict) and result.get("reply_markup"):
            found.append(result)
    return found


def find_button(messages: list[dict[str, Any]], match: Any) -> tuple[int, str] | None:
    for message in reversed(messages):
        for row in message["reply_markup"]["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data and match(button["text"], data):
                    return int(message["message_id"]), str(data)
    return None


Script = Generator[tuple[str, dict[str, Any]], list[Call], None]


def user_script(fake: FakeBot, uid: int, titles: list[str], rng: random.Random) -> Script:
    """The updates of one user, each decided from the answers to the one before (sent in)."""

    def message(text: str) -> dict[str, Any]:
        return fake.message_update(uid, text, first_name=f"U{uid % 10_000}")

    def tap(found: tuple[int, str]) -> dict[str, Any]:
        return fake.callback_update(uid, found[0], found[1])

    blocks = ["start", "help", "review", "recommend", "profile"]
    first = rng.randrange(len(blocks))
    for block in itertools.islice(itertools.cycle(blocks), first, first + 10_000):  # bounded
        if block in ("start", "help", "profile"):
            yield block, message(f"/{block}")
        elif block == "review":
            answers = yield "review", message(f"/review {rng.choice(titles)}")
            film = find_button(keyboards(answers), lambda _text, data: data.startswith("film:"))
            if film is not None:
                answers = yield "tap film", tap(film)
            rate = find_button(keyboards(answers), lambda text, data: data.startswith("rate:"))
            if rate is None:
                continue
            answers = yield "tap rating", tap(rate)
            if any("noted" in str(c.params.get("text", "")) for c in answers):
                words = " ".join(rng.choice(REVIEW_WORDS) for _ in range(rng.randint(3, 30)))
                yield "review text", message(f"{words}, would watch again")
        else:
            answers = yield "recommend", message("/recommend")
            for _ in range(2):  # the onboarding grid or a question first, then the picks
                shown = keyboards(answers)
                skip = find_button(shown, lambda text, data: data.startswith("pick:s:"))
                if skip is not None:
                    yield "tap skip", tap(skip)
                    break
                more = find_button(shown, lambda text, data: text.startswith("🎬"))
                if more is None:
                    break
                answers = yield "tap 🎬", tap(more)


@dataclass
class User:
    uid: int
    script: Script
    answers: list[Call] = field(default_factory=list)
    started: bool = False
    #: the next update, decided as soon as the answers to the one before came
    upcoming: tuple[str, dict[str, Any]] | None = None

    def next(self) -> tuple[str, dict[str, Any]]:
        if not self.started:
            self.started = True
            return next(self.script)
        return self.script.send(self.answers)
