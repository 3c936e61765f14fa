"""Hypothesis strategies for hostile Telegram traffic, as abstract *scenarios*.

A scenario is a short list of steps by a few users (the *actors*); each step is one event:
a private text or command, a tap on a real button the bot sent, a forged, truncated or
over-long callback, a document (random bytes, zips, zip bombs, traversal member names,
Letterboxd CSVs), a photo, sticker or voice note, an edited message, a channel post, a group
message, the anonymous group admin, an inline query or a chat-member update.

Events are plain frozen dataclasses: what the user does, not the Telegram objects. The driver
(`tests.fuzz.driver`) turns them into real `Update`s at run time, so a tap can name "button 3
of the newest keyboard" before anyone knows what the bot will send, and hypothesis shrinks
scenarios to the smallest one that still fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hypothesis import strategies as st

from bot.console import BOT_USERNAME
from bot.service import BOT_COMMANDS

#: Every command the bot knows, plus ones it does not.
COMMANDS = ("start", *(name for name, _ in BOT_COMMANDS))
UNKNOWN_COMMANDS = ("nosuchcommand", "Start", "REVIEW", "reviews", "forget_me", "a" * 32, "_", "1")
#: Prefixes of every typed CallbackData in bot/keyboards.py (and a few near misses).
CALLBACK_PREFIXES = (
    "pick",
    "film",
    "rate",
    "flow",
    "avoid",
    "imp",
    "ob_film",
    "ob_genre",
    "ob_done",
    "lang",
    "forget",
    "clar",
    "clar_skip",
    "Pick",
    "",
)
#: Values that break naive parsing: int32/int64 edges, signs, floats, accents, enum members.
FIELD_VALUES = (
    "0",
    "1",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999999",
    "1e3",
    "0x10",
    "1.5",
    "NaN",
    " 1",
    "",
    "é",
    "\x00",
    "w",
    "s",
    "n",
    "y",
    "done",
    "cancel",
    "notext",
    "en",
    "ru",
    "xx",
    "None",
    "true",
)
#: Known hostile callbacks, always in the pool.
HOSTILE_CALLBACKS = (
    "avoid:2147483648",
    "pick:w:9223372036854775808",
    "pick:s:2147483648",
    "pick:n:-1",
    "imp:2147483648",
    "imp:-9223372036854775809",
    "film:2147483648",
    "ob_film:9223372036854775808",
    "ob_genre:2147483648",
    "clar:-2147483649",
    "rate:11",
    "rate:0",
    "rate:2147483648",
    "forget:y:é",
    "forget:y:",
    "forget:x:0000",
    "lang:xx",
    "lang:",
    "flow:done",
    "flow:notext",
    "flow:cancel",
    "pick",
    "pick:",
    "pick:w",
    "pick:w:1:2",
    ":",
    "",
)
#: Forgeries aimed at the open question of a flow (/forget's nonce, stars, candidates, the
#: clarifying question, the onboarding grid), drawn often right after a flow starts.
FLOW_FORGERIES = (
    "forget:y:é",
    "forget:n:é",
    "forget:y:",
    "forget:y:0000000000000000",
    "rate:0",
    "rate:11",
    "rate:-1",
    "film:2147483648",
    "film:0",
    "clar:99",
    "clar:-1",
    "clar_skip",
    "ob_genre:-1",
    "ob_genre:2147483648",
    "ob_film:2147483648",
    "ob_done",
    "flow:done",
    "flow:notext",
    "flow:cancel",
)
DEMO_TITLES = (
    "Alien 1979",
    "Alien",
    "Alien (1979)",
    "Heat 1995",
    "Dune",
    "Dune 2021",
    "Amélie",
    "WALL·E",
    "Pan's Labyrinth",
    "Se7en 1995",
    "1917",
    "Interstelar 2014",
    "nothing like this at all 1850",
)
RATING_TEXTS = (
    "4.5 still the best creature feature",
    "4,5 the lobby scene",
    "10/10 perfect",
    "★★★★½ great",
    "4/5 good",
    "5",
    "0.5",
    "0",
    "-1 awful",
    "5.5 too much",
    "6/5",
    "½",
    "3.5",
    "great cast but too long",
    "4.5 " + "A" * 200,
)
LANGUAGES = ("en", "ru", "es", "pt", "pt-br", "de", "zz", None)
LONG_TEXT_LENGTHS = (4095, 4096, 4097, 20_000)


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A private text message (commands are texts starting with "/")."""

    text: str


@dataclass(frozen=True)
class Tap:
    """A tap on a real button: `owner` picks whose chat (0: the actor's own; else another
    actor's keyboard, as a foreign tap), `message` counts keyboards back from the newest (a
    stale one when > 0), `button` is taken modulo the buttons."""

    owner: int
    message: int
    button: int


@dataclass(frozen=True)
class Forged:
    """Callback data typed by a hostile client. `on`: "last" (under the actor's newest bot
    message), "inaccessible" (a message older than 48 h) or "inline" (no message at all)."""

    data: str
    on: str = "last"


@dataclass(frozen=True)
class Repeat:
    """The actor's previous tap again, on the same message (a double tap, or a tap on a
    message whose keyboard the bot has since removed)."""


@dataclass(frozen=True)
class Foreign:
    """A bystander's real button (their item, topic, import or /forget nonce) tapped by the actor."""

    button: int


@dataclass(frozen=True)
class Document:
    """A document: `payload` names how its bytes are made (see the driver's `document_bytes`).
    `claimed_size` overrides the size Telegram reports; `stored` False: the file cannot be
    downloaded (Telegram lost it)."""

    name: str | None
    mime: str | None
    payload: str
    seed: int
    claimed_size: int | None = None
    stored: bool = True
    caption: str | None = None


@dataclass(frozen=True)
class Media:
    """A photo, sticker, voice note, video note, location, contact or dice (optionally with a caption)."""

    kind: str
    caption: str | None = None


@dataclass(frozen=True)
class Edited:
    """The actor edits one of their earlier messages (an `edited_message` update)."""

    text: str


@dataclass(frozen=True)
class Group:
    """A message in a group: from the actor, or from the anonymous group admin."""

    text: str
    chat_type: str = "supergroup"
    anonymous: bool = False


@dataclass(frozen=True)
class Channel:
    """A post in a channel the bot is in (no `from_user`), or its edit."""

    text: str
    edited: bool = False


@dataclass(frozen=True)
class Inline:
    """An inline query (@bot text) from the actor."""

    query: str


@dataclass(frozen=True)
class Member:
    """A chat-member update: the bot blocked/unblocked (`my_chat_member`) or a group member change."""

    which: str  # "my_chat_member" | "chat_member"
    status: str


Event = Text | Tap | Repeat | Forged | Foreign | Document | Media | Edited | Group | Channel | Inline | Member


@dataclass(frozen=True)
class Step:
    actor: int
    event: Event


@dataclass(frozen=True)
class Scenario:
    """`languages[i]` is actor i's Telegram language; `steps` run in order."""

    languages: tuple[str | None, ...]
    steps: tuple[Step, ...]

    @property
    def actors(self) -> int:
        return len(self.languages)


# --- texts ---------------------------------------------------------------------------------

#: Any unicode a Telegram client can send (no lone surrogates: they do not survive UTF-8).
any_unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
nul_text = st.builds(
    lambda a, b: f"{a}\x00{b}", st.sampled_from(("Ali", "a", "/review Ali", "")), any_unicode
)
long_text = st.builds(
    lambda n, prefix, char: (prefix + char * n)[:n],
    st.sampled_from(LONG_TEXT_LENGTHS),
    st.sampled_from(("", "4 ", "4.5 ", "/review ", "/avoid ", "PART2-")),
    st.sampled_from(("A", "é", "😀", "<", "&", " ")),
)
html_text = st.sampled_from(
    ("<b>bold</b>", "a < b & c > d", "</i>", "&lt;", "<script>alert(1)</script>", "&#0;", "&#1114112;")
)


@cache
def command_text() -> st.SearchStrategy[str]:
    """/command[@suffix][ args]: every command of the bot, unknown ones, junk arguments."""
    name = st.one_of(st.sampled_from(COMMANDS), st.sampled_from(UNKNOWN_COMMANDS))
    suffix = st.sampled_from(("", "", "", f"@{BOT_USERNAME}", "@OtherBot", "@whattowatchbot", "@"))
    args = st.one_of(
        st.just(""),
        st.sampled_from(DEMO_TITLES).map(lambda t: " " + t),
        st.sampled_from(RATING_TEXTS).map(lambda t: " " + t),
        any_unicode.map(lambda t: " " + t),
        nul_text.map(lambda t: " " + t),
        st.sampled_from(FIELD_VALUES).map(lambda t: " " + t),
        st.sampled_from(("  ", "\n", " \u200b", " " + "x" * 300, " gore", " slow romance")),
    )
    return st.builds(lambda n, s, a: f"/{n}{s}{a}", name, suffix, args)


@cache
def private_text() -> st.SearchStrategy[str]:
    return st.one_of(
        command_text(),
        command_text(),
        st.sampled_from(DEMO_TITLES),
        st.sampled_from(RATING_TEXTS),
        any_unicode,
        nul_text,
        html_text,
        long_text,
    )


# --- callbacks -----------------------------------------------------------------------------


def _fit64(data: str) -> str:
    """Telegram delivers at most 64 bytes of callback data."""
    while len(data.encode("utf-8")) > 64:
        data = data[:-1]
    return data


@cache
def forged_data() -> st.SearchStrategy[str]:
    structured = st.builds(
        lambda prefix, fields: ":".join((prefix, *fields)),
        st.sampled_from(CALLBACK_PREFIXES),
        st.lists(st.one_of(st.sampled_from(FIELD_VALUES), any_unicode), max_size=3),
    )
    truncated = st.builds(
        lambda data, cut: data[:cut], st.sampled_from(HOSTILE_CALLBACKS), st.integers(0, 30)
    )
    return st.one_of(st.sampled_from(HOSTILE_CALLBACKS), structured, truncated, any_unicode.filter(bool)).map(
        _fit64
    )


# --- documents -----------------------------------------------------------------------------

#: How a document's bytes are made (see `tests.fuzz.driver.document_bytes`).
PAYLOADS = (
    "random",
    "empty",
    "demo_zip",
    "ratings_csv",
    "junk_csv",
    "imdb_csv",
    "nul_csv",
    "zip_abs",
    "zip_traversal",
    "zip_backslash",
    "zip_unicode",
    "zip_empty",
    "zip_nested",
    "zip_encrypted_flag",
    "zip_truncated",
    "zip_bomb",
    "zip_bomb_total",
)
DOCUMENT_NAMES = (
    "letterboxd.zip",
    "ratings.csv",
    "diary.csv",
    "export.ZIP",
    "film.txt",
    "noextension",
    "../../etc/passwd.zip",
    "/abs/ratings.csv",
    "ṙáŧïñğš.csv",
    "a" * 200 + ".zip",
    "",
    None,
)
MIME_TYPES = ("application/zip", "text/csv", "application/octet-stream", "image/png", None, "x/" + "y" * 60)


@cache
def document() -> st.SearchStrategy[Document]:
    return st.builds(
        Document,
        name=st.sampled_from(DOCUMENT_NAMES),
        mime=st.sampled_from(MIME_TYPES),
        payload=st.sampled_from(PAYLOADS),
        seed=st.integers(0, 2**16),
        claimed_size=st.one_of(
            st.none(), st.sampled_from((0, 1, 20 * 1024 * 1024, 20 * 1024 * 1024 + 1, 2**31))
        ),
        stored=st.sampled_from((True, True, True, False)),
        caption=st.one_of(st.none(), st.sampled_from(("/review Alien", "/cancel", "my export"))),
    )


# --- events and scenarios ------------------------------------------------------------------


@cache
def event(*, documents: bool = True) -> st.SearchStrategy[Event]:
    """One event of any kind; without `documents`, no files (cheaper examples)."""
    kinds: list[st.SearchStrategy[Event]] = [
        st.builds(Text, private_text()),
        st.builds(Text, private_text()),
        st.builds(Text, private_text()),
        st.builds(Tap, st.integers(0, 2), st.integers(0, 3), st.integers(0, 20)),
        st.builds(Tap, st.just(0), st.just(0), st.integers(0, 20)),
        st.builds(Forged, forged_data(), st.sampled_from(("last", "last", "inaccessible", "inline"))),
        st.just(Repeat()),
        st.builds(Foreign, st.integers(0, 60)),
        st.builds(
            Media,
            st.sampled_from(("photo", "sticker", "voice", "video_note", "location", "contact", "dice")),
            st.one_of(st.none(), st.sampled_from(("/review Alien", "4.5 nice", "/start")), any_unicode),
        ),
        st.builds(Edited, private_text()),
        st.builds(
            Group,
            private_text(),
            st.sampled_from(("group", "supergroup")),
            st.booleans(),
        ),
        st.builds(Channel, private_text(), st.booleans()),
        st.builds(Inline, any_unicode),
        st.builds(
            Member,
            st.sampled_from(("my_chat_member", "chat_member")),
            st.sampled_from(("member", "kicked", "left", "administrator", "restricted")),
        ),
    ]
    if documents:
        kinds.append(document())
    return st.one_of(kinds)


@cache
def scenarios(
    *, max_actors: int = 3, max_steps: int = 8, documents: bool = True
) -> st.SearchStrategy[Scenario]:
    """A few users, each a few steps, interleaved: mid-flow traffic of several people."""

    # an actor index beyond the actors wraps around (the driver takes it modulo)
    step = st.builds(Step, st.integers(0, max_actors - 1), event(documents=documents))
    return st.builds(
        lambda languages, steps: Scenario(tuple(languages), tuple(steps)),
        st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=max_actors),
        st.lists(step, min_size=1, max_size=max_steps),
    )


@cache
def flows() -> st.SearchStrategy[Scenario]:
    """Scenarios that start a flow first (/review, /forget, /recommend, /avoid, /language,
    /import) and then keep going: the paths where state matters."""
    openers = st.sampled_from(
        (
            "/review",
            "/review Alien 1979",
            "/review Alien",
            "/review Heat 1995",
            "/forget",
            "/recommend",
            "/avoid",
            "/avoid gore",
            "/language",
            "/import",
            "/profile",
            "/export",
        )
    )
    follow = st.one_of(
        st.builds(Text, st.sampled_from(RATING_TEXTS)),
        st.builds(Text, st.sampled_from(DEMO_TITLES)),
        st.builds(Text, long_text),
        st.builds(Tap, st.just(0), st.integers(0, 2), st.integers(0, 20)),
        st.builds(Tap, st.just(0), st.just(0), st.integers(0, 20)),
        st.builds(Tap, st.just(0), st.just(0), st.integers(0, 20)),
        st.builds(Forged, forged_data()),
        st.builds(Forged, st.sampled_from(HOSTILE_CALLBACKS)),
        st.builds(Forged, st.sampled_from(FLOW_FORGERIES)),
        st.just(Repeat()),
        st.builds(Foreign, st.integers(0, 60)),
        event(documents=False),
    )

    return st.builds(
        lambda languages, opened, steps: Scenario(
            tuple(languages), tuple(Step(actor, Text(o)) for actor, o in enumerate(opened)) + tuple(steps)
        ),
        st.lists(st.sampled_from(LANGUAGES), min_size=2, max_size=2),
        st.lists(openers, min_size=1, max_size=2),
        st.lists(st.builds(Step, st.integers(0, 1), follow), min_size=1, max_size=6),
    )


@cache
def uploads() -> st.SearchStrategy[Scenario]:
    """One user sends one or two documents, maybe mid-flow (after /review, /import, /forget…)."""
    before = st.lists(
        st.builds(Text, st.sampled_from(("/import", "/review", "/review Alien 1979", "/forget", "/cancel"))),
        max_size=1,
    )
    return st.builds(
        lambda lang, pre, docs: Scenario((lang,), tuple(Step(0, e) for e in (*pre, *docs))),
        st.sampled_from(LANGUAGES),
        before,
        st.lists(document(), min_size=1, max_size=2),
    )


@cache
def mixture() -> st.SearchStrategy[Scenario]:
    """All of the above, in about the proportions the test suite runs them (the benchmark)."""
    return st.one_of(
        scenarios(max_actors=2, max_steps=3, documents=False),
        scenarios(max_actors=2, max_steps=3, documents=False),
        scenarios(max_actors=2, max_steps=3, documents=False),
        flows(),
        flows(),
        uploads(),
        scenarios(max_actors=3, max_steps=6, documents=True),
    )
