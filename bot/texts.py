"""Everything the bot says. Strings are gettext messages (aiogram i18n), translated per user
language from `bot/locales/`; film titles and user text are HTML-escaped here."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.text_decorations import html_decoration as hd

from domain.avoid import MAX_TOPIC_CHARS, MAX_TOPICS, AvoidTopicInfo
from domain.entities import FilmInfo, Slot
from domain.profile import ProfileSummary
from domain.recommendations import ShownPick
from recommender import Reason, ReasonKind


def commands_help() -> str:
    return _(
        "/review — rate and review a film you watched\n"
        "/recommend — three films picked for you\n"
        "/avoid — see less of a topic, e.g. /avoid gore\n"
        "/myid — your Telegram id (for the Letterboxd import)\n"
        "/cancel — leave what you are doing\n"
        "/help — this list"
    )


def welcome(first_name: str | None, profile: ProfileSummary) -> str:
    hello = _("Hi, {name}!").format(name=hd.quote(first_name)) if first_name else _("Hi!")
    if profile.rated or profile.watched:
        known = _("I know {rated} of your ratings and {watched} watched films.").format(
            rated=profile.rated, watched=profile.watched
        )
    else:
        known = _(
            "I don't know your taste yet. Review a few films with /review, or bring your Letterboxd "
            "history: export it (Letterboxd → Settings → Import & Export) and import it."
        )
    return f"{hello} " + _("I recommend films.") + f"\n{known}\n\n" + commands_help()


def my_id(telegram_id: int) -> str:
    return _("Your Telegram id: <code>{id}</code>").format(id=telegram_id)


def cancelled() -> str:
    return _("Cancelled. What next? /recommend or /review")


def nothing_to_cancel() -> str:
    return _("Nothing to cancel. /help lists what I can do.")


def unknown_text() -> str:
    return _(
        "I didn't get that. Try /recommend for films to watch or /review to rate one. /help lists everything."
    )


def send_text_please() -> str:
    return _("I can only read text here. /cancel leaves this step.")


def button_invalid() -> str:
    return _("This button is no longer valid.")


def something_failed() -> str:
    return _("Sorry, something went wrong on my side. Please try again in a minute.")


def tmdb_down() -> str:
    return _("The film database (TMDB) isn't answering right now. Please try again in a few minutes.")


# --- review flow --------------------------------------------------------------------------


def ask_title() -> str:
    return _('Which film? Send its title, optionally with the year: "Alien", "Alien 1979" or "Alien (1979)".')


def not_found(query: str) -> str:
    return _("I couldn't find “{query}”. Check the spelling or add the year, or /cancel.").format(
        query=hd.quote(query)
    )


def choose_film() -> str:
    return _("Which one do you mean?")


def film_line(film: FilmInfo) -> str:
    """'<b>Alien</b> (1979) · 117 min · Horror, Science Fiction'."""
    parts = [f"<b>{hd.quote(film.title)}</b>" + (f" ({film.year})" if film.year else "")]
    if film.runtime:
        parts.append(_("{minutes} min").format(minutes=film.runtime))
    if film.genres:
        parts.append(hd.quote(", ".join(film.genres[:3])))
    return " · ".join(parts)


def ask_rating(film: FilmInfo) -> str:
    return _(
        "{film}\n\nHow many stars? Tap a rating, or type it before your review: "
        "“4.5 great tension”, “4/5 …”, “★★★★½ …”."
    ).format(film=film_line(film))


def ask_rating_alone() -> str:
    return _("Got your review. Now the rating, please: tap the stars (½ to 5).")


def bad_rating(value: str) -> str:
    return _(
        "“{value}” isn't a rating I can use: ratings go from ½ to 5 stars in half steps (e.g. 3.5)."
    ).format(value=hd.quote(value))


def ask_review_text(stars: str) -> str:
    return _("{stars} — noted. Now your review, as long as you like (or save without one).").format(
        stars=stars
    )


def review_saved(film: FilmInfo, stars: str, created: bool) -> str:
    head = _("Saved: {film} {stars}") if created else _("Updated your review: {film} {stars}")
    return (
        head.format(film=film_line(film), stars=stars)
        + "\n"
        + _("If Telegram split a long review, send the rest now and I'll add it. Tap Done when finished.")
    )


def rating_saved(film: FilmInfo, stars: str) -> str:
    return _("Saved: {film} {stars}").format(film=film_line(film), stars=stars)


def review_appended(length: int) -> str:
    return _("Added. Your review now has {n} characters.").format(n=length)


def review_too_long(max_chars: int) -> str:
    return _("That would make the review longer than {n} characters, so I kept it as it was.").format(
        n=max_chars
    )


def review_done() -> str:
    return _("Done. /recommend when you want something to watch.")


# --- recommendations -----------------------------------------------------------------------


def wait_seconds(seconds: int) -> str:
    return ngettext(
        "Give me a moment: you can ask again in {n} second.",
        "Give me a moment: you can ask again in {n} seconds.",
        seconds,
    ).format(n=seconds)


def cold_start_hint() -> str:
    return _(
        "I don't know your taste yet, so here are popular, well-rated films. Review a few films with "
        "/review or import your Letterboxd history, and my picks will get personal."
    )


def no_picks() -> str:
    return _("I've run out of films to suggest right now. Review a few more films and ask again.")


def slot_title(slot: Slot) -> str:
    return {
        Slot.SAFE: _("🎯 Safe pick"),
        Slot.ADJACENT: _("🧭 Something adjacent"),
        Slot.WILDCARD: _("🎲 Wildcard"),
    }[slot]


def _names(values: tuple[str, ...]) -> str:
    return hd.quote(_(" and ").join(values[:2]))


def reason_text(reason: Reason) -> str:
    """One structured reason as a plain sentence fragment."""
    v = reason.values
    match reason.kind:
        case ReasonKind.SIMILAR_TO:
            return _("Because you loved {titles}.").format(titles=_names(v))
        case ReasonKind.FANS_ALSO_LOVED:
            return _("People who loved {titles} loved this too.").format(titles=_names(v))
        case ReasonKind.SHARED_GENRES:
            return _("You rate {genres} films highly.").format(genres=_names(v))
        case ReasonKind.SHARED_KEYWORDS:
            return _("Themes you like: {keywords}.").format(keywords=_names(v))
        case ReasonKind.HIGHLY_RATED:
            return (
                _("Highly rated on TMDB ({score}/10).").format(score=v[0])
                if v
                else _("Highly rated on TMDB.")
            )
        case ReasonKind.POPULAR:
            return _("Popular and well liked right now.")
        case ReasonKind.NEW_GENRE:
            return _("A step outside your usual genres: {genre}.").format(genre=_names(v))
        case ReasonKind.NEW_DECADE:
            return _("From a decade you rarely watch: the {decade}.").format(decade=_names(v))
        case ReasonKind.HIDDEN_GEM:
            return _("A lesser-known gem.")
    return ""  # pragma: no cover - every kind is handled above


def pick_card(pick: ShownPick) -> str:
    reasons = " ".join(reason_text(r) for r in pick.reasons[:2])
    return f"{slot_title(pick.slot)}\n{film_line(pick.film)}\n{reasons}"


def skipped() -> str:
    return _("⏭ Skipped. It won't come back for a while.")


def marked_watched() -> str:
    return _("✅ Marked as watched.")


def not_interested() -> str:
    return _("🚫 Got it: I won't suggest it again.")


def already_done() -> str:
    return _("Already noted.")


# --- cold-start onboarding -----------------------------------------------------------------


def onboarding_intro() -> str:
    return _(
        "I don't know your taste yet: tap films you liked and genres you enjoy, then 🎬 Show picks. "
        "Nothing here you've seen? Tap it right away and I'll start with popular films."
    )


def onboarding_liked(film: FilmInfo) -> str:
    """A callback answer: plain text, no HTML."""
    return _("Noted: you liked {film}.").format(film=film.label)


def onboarding_use_buttons() -> str:
    return _(
        "Tap the films you liked and the genres you enjoy above, then 🎬 Show picks. "
        "To rate a film that isn't there, use /review."
    )


# --- /avoid -------------------------------------------------------------------------------


def avoid_added(topic: str) -> str:
    return _(
        "Noted: films close to “{topic}” will come up less often (not banned, just pushed down). "
        "/avoid lists your topics."
    ).format(topic=hd.quote(topic))


def avoid_refused(reason: str) -> str:
    """`reason` of an AvoidTopicError: "empty", "too_long" or "too_many"."""
    if reason == "too_long":
        return _(
            "That topic is too long: keep it under {n} characters, like “gore” or “slow romance”."
        ).format(n=MAX_TOPIC_CHARS)
    if reason == "too_many":
        return _("You already have {n} topics. Remove one with /avoid before adding another.").format(
            n=MAX_TOPICS
        )
    return avoid_how_to()


def avoid_how_to() -> str:
    return _(
        "Tell me what you'd rather see less of, in a few words: /avoid gore or /avoid slow romance. "
        "Films close to it will come up less often."
    )


def avoid_list(topics: list[AvoidTopicInfo]) -> str:
    if not topics:
        return _("You aren't avoiding anything yet.") + "\n" + avoid_how_to()
    lines = "\n".join(f"• {hd.quote(t.topic)}" for t in topics)
    return (
        _("Films close to these topics come up less often:")
        + f"\n{lines}\n\n"
        + _("Tap ❌ to remove a topic; /avoid and a few words adds one.")
    )


def avoid_removed() -> str:
    return _("Removed.")
