"""Everything the bot says. Strings are gettext messages (aiogram i18n), translated per user
language from `bot/locales/`; film titles and user text are HTML-escaped here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal

from bot.charts import GenreBar, ProfileChart
from domain.avoid import MAX_TOPIC_CHARS, MAX_TOPICS, AvoidTopicInfo
from domain.clarify import LONG_MIN_MINUTES, OLD_BEFORE, SHORT_MAX_MINUTES, QuestionKind
from domain.entities import FilmInfo, Slot, Source
from domain.import_types import HistoryUse, ImportReport
from domain.letterboxd import MAX_UPLOAD_BYTES, SKIPPING_CODES, LetterboxdFormatError, Problem
from domain.picks import ShownPick
from domain.profile import ProfileSummary, ProfileView
from domain.stats import BotStats, PickCounts, RequestCounts
from domain.taste import GroupScore, TasteStats
from recommender import Reason, ReasonKind


def commands_help() -> str:
    return _(
        "/review — rate and review a film you watched\n"
        "/recommend — three films picked for you; ask in words too: /recommend a short 90s comedy\n"
        "/recommend watchlist — three from your watchlist for tonight\n"
        "/similar Alien — three films like one you name (or 🔁 on a card)\n"
        "/watchlist — the films you saved with 🔖\n"
        "/ratings — your ratings: change or delete one\n"
        "/settings — filters every pick follows (genres, decades, runtime, languages)\n"
        "/country, /services — where you watch: 📺 on a card says where a film streams\n"
        "/avoid — see less of a topic, e.g. /avoid gore\n"
        "/import — bring your Letterboxd or IMDb history (send the export file)\n"
        "/profile — your taste in words and a picture\n"
        "/export — all your data as a CSV file; /export letterboxd — a file for Letterboxd's importer\n"
        "/forget — delete everything I know about you\n"
        "/language — choose my language\n"
        "Add me to a group chat: /together there picks a film for everyone\n"
        "/myid — your Telegram id (for the Letterboxd import)\n"
        "/cancel — leave what you are doing\n"
        "/help — this list"
    )


def _hello(first_name: str | None) -> str:
    """ "Hi, Ann! I recommend films." (the first line of /start)."""
    hello = _("Hi, {name}!").format(name=hd.quote(first_name)) if first_name else _("Hi!")
    return f"{hello} " + _("I recommend films.")


def welcome(first_name: str | None, profile: ProfileSummary) -> str:
    if profile.rated or profile.watched:
        known = _("I know {rated} of your ratings and {watched} watched films.").format(
            rated=profile.rated, watched=profile.watched
        )
    else:
        known = _(
            "I don't know your taste yet. Review a few films with /review, or bring your Letterboxd "
            "history: export it (Letterboxd → Settings → Import & Export) and import it."
        )
    return _hello(first_name) + f"\n{known}\n\n" + commands_help()


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


def database_down() -> str:
    return _("I'm having trouble right now, try again in a minute. Nothing you sent before is lost.")


def welcome_degraded(first_name: str | None) -> str:
    """/start while the database is unreachable: no counts, the command list, the apology."""
    return _hello(first_name) + "\n" + database_down() + "\n\n" + commands_help()


def speak_as_yourself() -> str:
    return _(
        "I can't tell who is writing when a message is sent on behalf of a group or channel. "
        "Write as yourself, or message me privately."
    )


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
        parts.append(hd.quote(", ".join(genre_name(g) for g in film.genres[:3])))
    return " · ".join(parts)


def ask_rating(film: FilmInfo) -> str:
    return _(
        "{film}\n\nHow many stars? Tap a rating, or type it before your review: "
        "“4.5 great tension”, “4/5 …”, “★★★★½ …”."
    ).format(film=film_line(film))


def ask_rating_alone() -> str:
    return _("Got your review. Now the rating, please: tap the stars (½ to 5).")


def ask_rating_for_draft(film: FilmInfo) -> str:
    """The film is chosen and a review text is waiting for its rating."""
    return film_line(film) + "\n\n" + ask_rating_alone()


def pick_film_first() -> str:
    return _("Got your review, I'm keeping it. First tap the film you mean above (or send another title).")


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


def early_taste_hint(films: int) -> str:
    """Instead of `cold_start_hint` for a user with some history but no personal signal yet
    (no CF neighbours, no taste vector): never "I don't know your taste" to someone who told us."""
    return ngettext(
        "I know {n} of your films so far, not enough to go on yet, so these picks lean on popular, "
        "well-rated films. Rate a few more with /review and they'll get personal.",
        "I know {n} of your films so far, not enough to go on yet, so these picks lean on popular, "
        "well-rated films. Rate a few more with /review and they'll get personal.",
        films,
    ).format(n=films)


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


def _genre_names(values: tuple[str, ...]) -> str:
    return _names(tuple(genre_name(g) for g in values))


def reason_text(reason: Reason) -> str:
    """One structured reason as a plain sentence fragment."""
    v = reason.values
    match reason.kind:
        case ReasonKind.SIMILAR_TO:
            return _("Because you loved {titles}.").format(titles=_names(v))
        case ReasonKind.FANS_ALSO_LOVED:
            return _("People who loved {titles} loved this too.").format(titles=_names(v))
        case ReasonKind.SHARED_GENRES:
            return _("You rate {genres} films highly.").format(genres=_genre_names(v))
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
            return _("A step outside your usual genres: {genre}.").format(genre=_genre_names(v))
        case ReasonKind.NEW_DECADE:
            decades = tuple(decade_name(d.removesuffix("s")) for d in v)  # "1990s" → "1990-е"
            return _("From a decade you rarely watch: the {decade}.").format(decade=_names(decades))
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


# --- Letterboxd import --------------------------------------------------------------------


def import_how_to() -> str:
    letterboxd = _(
        "On Letterboxd open <b>Settings → Import &amp; Export → Export your data</b> and download the .zip.\n"
        "Send me that file here (or just its ratings.csv or diary.csv): I'll import your ratings, diary, "
        "reviews, likes and watchlist."
    )
    imdb = _(
        "From IMDb: open <b>Your ratings → Export</b>, download the CSV from <b>Your exports</b> and send it "
        "to me: I'll import your film ratings (10/10 becomes 5 stars)."
    )
    return f"{letterboxd}\n{imdb}"


def import_queued(file_name: str, films: int) -> str:
    return ngettext(
        "📥 Got {file}: {count} film. Matching it with TMDB…",
        "📥 Got {file}: {count} films. Matching them with TMDB…",
        films,
    ).format(file=hd.quote(file_name), count=films)


def import_progress(done: int, total: int, matched: int) -> str:
    return _("⏳ Matched {matched} of {done} / {total} films… (/cancel stops the import)").format(
        matched=matched, done=done, total=total
    )


def import_tmdb_retrying() -> str:
    return _(
        "⏳ TMDB isn't answering at the moment. What is matched so far is saved; "
        "I'll carry on by myself in a few minutes."
    )


def import_tmdb_gave_up() -> str:
    return _(
        "TMDB hasn't answered for a long time, so I stopped the import. "
        "Everything matched so far is saved: send the file again later to finish it."
    )


def import_download_failed() -> str:
    return _("I couldn't download that file from Telegram. Please send it again.")


def import_busy() -> str:
    return _("Your previous import is still running. Wait for its report, or /cancel it first.")


def import_cancelled() -> str:
    return _("Import cancelled. Films already imported are kept; send the file again to finish it.")


def import_not_a_document() -> str:
    return _("That isn't a file I can import. Send the Letterboxd export .zip (or one of its CSV files).")


def import_report(report: ImportReport, *, cancelled: bool = False, history: HistoryUse | None = None) -> str:
    """The summary that replaces the progress message. Its last line says whether
    /recommend already uses the history (`history`, see `HistoryUse`); EMPTY or None (not
    known) add no such line."""
    head = _("⏹ Import stopped.") if cancelled else _("✅ Import finished.")
    lines = [
        f"<b>{head}</b>",
        _("Films in the file: {films}; matched with TMDB: {matched}; not matched: {unmatched}.").format(
            films=report.films, matched=report.matched, unmatched=report.unmatched
        ),
        _(
            "Saved: {ratings} ratings, {watched} watched, {viewings} diary entries, {reviews} reviews, "
            "{likes} likes, {watchlist} on the watchlist."
        ).format(
            ratings=report.ratings,
            watched=report.watched,
            viewings=report.viewings,
            reviews=report.reviews,
            likes=report.likes,
            watchlist=report.watchlist,
        ),
    ]
    if report.source == Source.IMDB:  # an IMDb export has ratings only: no other count to give
        lines[-1] = import_imdb_saved(report.ratings)
    lines += [f"• {problem_text(p)}" for p in report.problems if p.code == "not_films"]
    notes = [p for p in report.problems if p.code not in SKIPPING_CODES and p.code != "not_films"]
    skipped = [p for p in report.problems if p.code in SKIPPING_CODES]
    if report.skipped_rows:
        lines.append(
            ngettext(
                "{count} row couldn't be read:", "{count} rows couldn't be read:", report.skipped_rows
            ).format(count=report.skipped_rows)
        )
    lines += [f"• {problem_text(p)}" for p in (skipped + notes)[:MAX_REPORTED_PROBLEMS]]
    hidden = len(skipped) + len(notes) - MAX_REPORTED_PROBLEMS
    if hidden > 0:
        lines.append(_("…and {count} more.").format(count=hidden))
    if report.unchecked:
        lines.append(import_unchecked(report.unchecked))
    if report.unmatched:
        lines.append(_("The button below gives you the films I couldn't match, as a CSV file."))
    if history is HistoryUse.READY:
        lines.append(_("Your recommendations already use this history: try /recommend."))
    elif history is HistoryUse.PENDING:
        lines.append(
            _("I'm still reading these films; your recommendations will use them within a few minutes.")
        )
    return "\n".join(lines)


def import_imdb_saved(ratings: int) -> str:
    """The report's "saved" line for an IMDb export (ratings only, IMDb's 10 points as half stars)."""
    return ngettext(
        "Saved: {count} rating (IMDb's 1–10 as ½–5 stars).",
        "Saved: {count} ratings (IMDb's 1–10 as ½–5 stars).",
        ratings,
    ).format(count=ratings)


def import_unchecked(count: int) -> str:
    """The report's line for films TMDB kept failing on (neither matched nor unmatched)."""
    return ngettext(
        "⚠️ {count} film couldn't be checked with TMDB right now (it kept failing). "
        "Send me the same file again later to finish it: what is imported stays, nothing is doubled.",
        "⚠️ {count} films couldn't be checked with TMDB right now (it kept failing). "
        "Send me the same file again later to finish them: what is imported stays, nothing is doubled.",
        count,
    ).format(count=count)


#: How many unread rows and notes the import report lists (the rest are counted).
MAX_REPORTED_PROBLEMS = 8


def problem_text(problem: Problem) -> str:
    """One line of the report: where, and why, in the user's language."""
    where = (
        hd.quote(problem.file)
        if problem.row is None
        else _("{file}, row {row}").format(file=hd.quote(problem.file), row=problem.row)
    )
    value = hd.quote(problem.value)
    why = {
        "empty_name": _("the film has no name"),
        "bad_year": _("year {value} isn't a year").format(value=value),
        "bad_date": _("date {value} isn't a date").format(value=value),
        "bad_rating": _("rating {value} isn't 0.5–5 stars in half steps").format(value=value),
        "no_rating": _("no rating"),
        "wrong_columns": _("no {value} column, so the file was skipped").format(value=value),
        "unreadable": _("not readable as CSV from here on"),
        "encoding": _("not UTF-8 text; read as {value}").format(value=value),
        "bad_imdb_rating": _("rating {value} isn't 1–10").format(value=value),
        "bad_const": _("{value} isn't an IMDb id (Const)").format(value=value),
        "not_films": _imdb_not_films(problem.value),
    }.get(problem.code, problem.code)
    return f"{where}: {why}"


def _imdb_not_films(value: str) -> str:
    count = int(value) if value.isdigit() else 0
    return ngettext(
        "{count} TV series, episode or other title that isn't a film was left out (I import films only)",
        "{count} TV series, episodes or other titles that aren't films were left out (I import films only)",
        count,
    ).format(count=count)


def import_refused(error: LetterboxdFormatError) -> str:
    """Why a file can't be imported at all, and what to send instead."""
    file = hd.quote(error.params.get("file", ""))
    reason = {
        "empty": _("That file is empty."),
        "too_big": _(
            "That file is too big: Letterboxd exports are well under {mb} MB, and bots can't download more."
        ).format(mb=MAX_UPLOAD_BYTES // (1024 * 1024)),
        "zip_bomb": _("That zip unpacks to far more than any Letterboxd export, so I didn't open it."),
        "not_zip": _("That isn't a zip file, or it is damaged."),
        "damaged": _("That zip is damaged and can't be unpacked."),
        "compression": _("That zip uses a compression I can't read."),
        "encrypted": _("That zip is password-protected."),
        "several_exports": _("That zip holds more than one Letterboxd export; send just one."),
        "no_files": _(
            "I found no Letterboxd files in it (ratings.csv, watched.csv, diary.csv, reviews.csv, "
            "watchlist.csv or likes/films.csv)."
        ),
        "other_site": _("This looks like an export from {site}, not from Letterboxd.").format(
            site=hd.quote(error.params.get("site", ""))
        ),
        "wrong_columns": _("{file} doesn't have Letterboxd's columns (it has no {missing} column).").format(
            file=file, missing=hd.quote(error.params.get("missing", ""))
        ),
        "unreadable": _("{file} isn't readable CSV text.").format(file=file),
        "imdb_columns": _("This looks like an IMDb export, but it has no {missing} column.").format(
            missing=hd.quote(error.params.get("missing", ""))
        ),
        "imdb_no_films": _(
            "I found no rated films in this IMDb export (TV series and episodes aren't imported)."
        ),
    }.get(error.code, _("I couldn't read that file."))
    if error.code.startswith("imdb_"):
        return reason + "\n" + import_imdb_how_to()
    return (
        reason
        + "\n"
        + _("On Letterboxd: Settings → Import &amp; Export → Export your data, then send me that .zip.")
    )


def import_imdb_how_to() -> str:
    return _("On IMDb: Your ratings → Export, then send me the CSV from Your exports.")


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


# --- /profile, /export, /forget, /language ------------------------------------------------


def genre_name(name: str) -> str:
    """A TMDB genre name (English, as stored) in the user's language; unknown names as they are."""
    names = {
        "Action": _("Action"),
        "Adventure": _("Adventure"),
        "Animation": _("Animation"),
        "Comedy": _("Comedy"),
        "Crime": _("Crime"),
        "Documentary": _("Documentary"),
        "Drama": _("Drama"),
        "Family": _("Family"),
        "Fantasy": _("Fantasy"),
        "History": _("History"),
        "Horror": _("Horror"),
        "Music": _("Music"),
        "Mystery": _("Mystery"),
        "Romance": _("Romance"),
        "Science Fiction": _("Science Fiction"),
        "TV Movie": _("TV Movie"),
        "Thriller": _("Thriller"),
        "War": _("War"),
        "Western": _("Western"),
    }
    return names.get(name, name)


def _locale() -> Locale:
    try:
        return Locale.parse(get_i18n().current_locale)
    except (LookupError, ValueError, UnknownLocaleError):  # outside an i18n context
        return Locale("en")


def country_name(code: str) -> str:
    """An ISO 3166-1 code ("JP") as a country name in the user's language (CLDR, via Babel)."""
    return str(_locale().territories.get(code.upper(), code))


def decade_name(decade: str) -> str:
    """The decade "1970" as "1970s" (Russian "1970-е")."""
    return _("{decade}s").format(decade=decade)


def stars_value(value: float) -> str:
    """A rating in stars with one decimal, in the user's number format ("3.6", Russian "3,6")."""
    return format_decimal(round(value, 1), format="0.0", locale=_locale())


def profile_counts(stats: TasteStats) -> str:
    """The counts line, "42 films rated · average 3.6★ · 12 reviews" (plain text: also the
    chart's subtitle)."""
    rated = ngettext("{n} film rated", "{n} films rated", stats.rated).format(n=stats.rated)
    reviews = ngettext("{n} review", "{n} reviews", stats.reviews).format(n=stats.reviews)
    if stats.average is None:
        return f"{rated} · {reviews}"
    average = _("average {stars}★").format(stars=stars_value(stats.average))
    return f"{rated} · {average} · {reviews}"


def _avoid_line(topics: tuple[str, ...]) -> str:
    if not topics:
        return _("Avoid topics: none yet (/avoid adds one).")
    return _("Avoid topics: {topics}.").format(topics=hd.quote(", ".join(topics)))


def _group_line(label: str, groups: tuple[GroupScore, ...], name: Callable[[str], str]) -> str:
    items = ", ".join(f"{hd.quote(name(g.key))} ({stars_value(g.average)}★)" for g in groups)
    return f"{label} {items}"


def profile_text(view: ProfileView) -> str:
    """/profile as HTML: counts, the model's summary if any, favourite and least favourite
    genres, decades and countries, themes of films rated high, avoid topics."""
    stats = view.stats
    lines = ["<b>" + _("Your taste in films") + "</b>", profile_counts(stats)]
    if view.worded_summary:
        lines += ["", f"<i>{hd.quote(view.worded_summary)}</i>"]
    groups = [
        (_("Favourite genres:"), stats.genres.favourite, genre_name),
        (_("Least favourite genres:"), stats.genres.least, genre_name),
        (_("Favourite decades:"), stats.decades.favourite, decade_name),
        (_("Least favourite decades:"), stats.decades.least, decade_name),
        (_("Favourite countries:"), stats.countries.favourite, country_name),
        (_("Least favourite countries:"), stats.countries.least, country_name),
    ]
    taste = [_group_line(label, items, name) for label, items, name in groups if items]
    if stats.keywords:
        taste.append(_("Themes of films you rate high:") + " " + hd.quote(", ".join(stats.keywords)))
    if not taste:
        taste = [_("Rate a few more films and I'll tell you your favourite genres, decades and countries.")]
    return "\n".join([*lines, "", *taste, "", _avoid_line(view.avoid_topics)])


def profile_empty(view: ProfileView) -> str:
    """/profile of a user without ratings: no chart, a way forward."""
    return (
        _(
            "You haven't rated any films yet, so there's no taste to show. Rate a few with /review "
            "or import your Letterboxd history, and /profile will draw your ratings and genres."
        )
        + "\n\n"
        + _avoid_line(view.avoid_topics)
    )


def profile_chart(view: ProfileView) -> ProfileChart:
    """The picture's texts and numbers, in the user's language (plain text, no HTML)."""
    stats = view.stats
    genres = [
        GenreBar(
            genre_name(g.key),
            g.average,
            ngettext("{stars}★ · {n} film", "{stars}★ · {n} films", g.films).format(
                stars=stars_value(g.average), n=g.films
            ),
        )
        for g in stats.main_genres
    ]
    return ProfileChart(
        title=_("Your taste in films"),
        subtitle=profile_counts(stats),
        ratings_title=_("Your ratings"),
        stars_axis=_("Stars"),
        films_axis=_("Films"),
        distribution=stats.distribution,
        genres_title=_("Your main genres by average rating"),
        genres=genres,
        average=stats.average or 0.0,
        average_label=_("your average") + f" {stars_value(stats.average or 0.0)}★",
    )


def profile_photo_caption() -> str:
    return _("Your ratings in half stars, and your main genres by average rating.")


def export_caption(rows: int) -> str:
    return (
        ngettext(
            "Everything I store about you: {n} row in one CSV file.",
            "Everything I store about you: {n} rows in one CSV file.",
            rows,
        ).format(n=rows)
        + " "
        + _(
            "The “kind” column says what a row is: rating, review, watch, recommendation, feedback, "
            "avoid_topic or taste_summary."
        )
    )


def export_empty() -> str:
    return _("I don't store anything about you yet, so there is nothing to export.")


def export_letterboxd_caption(films: int, reviews: int) -> str:
    """The caption of the `/export letterboxd` file: what is in it, and where to import it."""
    parts = [
        ngettext("{count} film for Letterboxd.", "{count} films for Letterboxd.", films).format(count=films)
    ]
    if reviews:
        parts.append(
            ngettext(
                "It has the review you wrote here.", "It has the {count} reviews you wrote here.", reviews
            ).format(count=reviews)
        )
    parts.append(
        _(
            "On Letterboxd open Settings → Import &amp; Export → Import data (letterboxd.com/import) "
            "and choose this file."
        )
    )
    return " ".join(parts)


def export_letterboxd_empty() -> str:
    return _(
        "You haven't rated or watched a film here yet, so there is nothing to take to Letterboxd. "
        "Rate one with /review."
    )


def forget_confirm() -> str:
    return _(
        "Delete everything I know about you: ratings, reviews, recommendations and your answers to "
        "them, avoid topics, imports and your language choice? This cannot be undone. "
        "Send /export first if you want a copy."
    )


def forgotten() -> str:
    return _("Done: I deleted everything I knew about you. Send /start whenever you want to begin again.")


def forget_kept() -> str:
    return _("Nothing was deleted.")


def language_prompt() -> str:
    return _("Choose the language I speak with you:")


def language_changed() -> str:
    return _("Done: I'll speak this language from now on. /help lists what I can do.")


# --- explanations and the clarifying question ------------------------------------------------


def pick_card_explained(pick: ShownPick, explanation: str | None) -> str:
    """A card with the language model's explanation of the pick (checked, escaped here); the
    template card (`pick_card`, from the same reasons) when there is none."""
    if not explanation:
        return pick_card(pick)
    return f"{slot_title(pick.slot)}\n{film_line(pick.film)}\n{hd.quote(explanation)}"


def clarify_question(kind: QuestionKind) -> str:
    question = {
        QuestionKind.MOOD: _("What are you in the mood for?"),
        QuestionKind.LENGTH: _("Short or long tonight?"),
        QuestionKind.ERA: _("Something recent or an older classic?"),
        QuestionKind.GENRE: _("Which genre tonight?"),
    }[kind]
    return (
        _("One quick question so my picks fit better:")
        + f"\n<b>{question}</b>\n"
        + _("Your answer only shapes these picks.")
    )


def clarify_option(kind: QuestionKind, option: str) -> str:
    """A button label for one option of a clarifying question (a genre in the user's language)."""
    match kind:
        case QuestionKind.MOOD:
            return {
                "light": _("😄 Light and fun"),
                "thrilling": _("⚡ Thrilling"),
                "moving": _("💧 Moving"),
                "dark": _("🌑 Dark"),
                "mind": _("🌀 Mind-bending"),
            }.get(option, option)
        case QuestionKind.LENGTH:
            return {
                "short": _("⏱ Short (up to {n} min)").format(n=SHORT_MAX_MINUTES),
                "long": _("🍿 Long ({n} min or more)").format(n=LONG_MIN_MINUTES),
            }.get(option, option)
        case QuestionKind.ERA:
            return {
                "new": _("✨ Something recent"),
                "old": _("🎞 A classic (before {year})").format(year=OLD_BEFORE),
            }.get(option, option)
    return genre_name(option)


def clarify_use_buttons() -> str:
    return _("Tap one of the answers above, or 🎬 Just recommend.")


# --- /stats (admins) -----------------------------------------------------------------------------


def share(part: int, whole: int) -> int:
    """`part` of `whole` in whole percent, rounded half up (1 of 8 → 13); 0 when `whole` is 0."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def _utc(moment: dt.datetime) -> str:
    """'2026-11-30 14:05 UTC'."""
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def age_text(age: dt.timedelta) -> str:
    """A duration, cut down to whole units: under 2 hours in minutes ("95 min"), under 2 days
    in hours ("47 h"), else in days ("3 d")."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 120:
        return _("{n} min").format(n=minutes)
    if minutes < 48 * 60:
        return _("{n} h").format(n=minutes // 60)
    return _("{n} d").format(n=minutes // (24 * 60))


def _picks_answers(picks: PickCounts) -> str:
    """'✅ 3 (10%) · ⏭ 6 (20%) · 🚫 1 (3%) · no answer: 20 (67%)' (shares of `picks.shown`)."""

    def part(n: int) -> str:
        return f"{n} ({share(n, picks.shown)}%)"

    return _("✅ {watched} · ⏭ {skipped} · 🚫 {not_interested} · no answer: {unanswered}").format(
        watched=part(picks.watched),
        skipped=part(picks.skipped),
        not_interested=part(picks.not_interested),
        unanswered=part(picks.unanswered),
    )


def _picks_line(label: str, picks: PickCounts) -> str:
    head = f"• {label}: {picks.shown}"
    return head + " — " + _picks_answers(picks) if picks.shown else head


def _tmdb_line(tmdb: RequestCounts) -> str:
    if not tmdb.total:
        return _("<b>TMDB</b> since this process started ({time}): no requests.").format(
            time=_utc(tmdb.since)
        )
    return _(
        "<b>TMDB</b> since this process started ({time}): {errors} of {total} requests failed "
        "({percent}%). Failed: no answer, or an HTTP status other than 2xx. Only this process "
        "counts; separate workers and other replicas keep their own figures."
    ).format(
        time=_utc(tmdb.since), errors=tmdb.errors, total=tmdb.total, percent=share(tmdb.errors, tmdb.total)
    )


def stats_text(stats: BotStats) -> str:
    """/stats as HTML: users, picks shown and their answers, imports, job queues, the CF model
    and TMDB's error rate (the rules behind each figure: domain.stats)."""
    days = stats.window.days
    window = ngettext("in the last {n} day", "in the last {n} days", days).format(n=days)
    users = stats.users
    imports = stats.imports
    lines = [
        _("📊 <b>Bot figures</b>, {time}").format(time=_utc(stats.taken_at)),
        "",
        _("<b>Users:</b> {total} in all · active {window}: {active} · blocked the bot: {blocked}").format(
            total=users.total, window=window, active=users.active, blocked=users.blocked
        ),
        "",
        _("<b>Picks shown</b> and their answers (✅ watched, ⏭ skipped, 🚫 not interested):"),
        _picks_line(window, stats.picks_recent),
        _picks_line(_("all time"), stats.picks_all),
        "",
        _(
            "<b>Imports:</b> queued or running now: {in_progress}; ended {window}: finished {done} · "
            "stopped {cancelled} · failed {failed}; films matched in the finished and stopped ones: {matched}"
        ).format(
            in_progress=imports.in_progress,
            window=window,
            done=imports.done,
            cancelled=imports.cancelled,
            failed=imports.failed,
            matched=imports.films_matched,
        ),
        "",
        _("<b>Job queues</b> (waiting · running · failed):"),
        *(f"• {hd.quote(q.queue)}: {q.waiting} · {q.running} · {q.failed}" for q in stats.queues),
        "",
    ]
    model = stats.cf_model
    if model is None:
        lines.append(_("<b>CF model:</b> none built yet."))
    else:
        lines.append(
            _(
                "<b>CF model:</b> built {age} ago ({time}) · films: {films} · users: {users} · "
                "prior users: {prior}"
            ).format(
                age=age_text(stats.taken_at - model.built_at),
                time=_utc(model.built_at),
                films=model.n_items,
                users=model.n_users,
                prior=model.n_prior_users,
            )
        )
    if stats.tmdb is not None:
        lines += ["", _tmdb_line(stats.tmdb)]
    return "\n".join(lines)


# --- the bot's profile (setMyDescription, setMyShortDescription) -----------------------------------

#: Telegram's limits, in characters.
MAX_DESCRIPTION_CHARS = 512
MAX_SHORT_DESCRIPTION_CHARS = 120


def bot_description() -> str:
    """What an empty chat with the bot shows ("What can this bot do?"); plain text, at most
    MAX_DESCRIPTION_CHARS."""
    return _(
        "I recommend films, three at a time: 🎯 a safe pick, 🧭 something adjacent and 🎲 a wildcard, "
        "each with the reason in plain words.\n\n"
        "Rate films you've seen with /review, or bring your whole Letterboxd history with /import, "
        "and my picks get personal. Then ask /recommend.\n\n"
        "Film data from TMDB; this bot is not endorsed or certified by TMDB."
    )


def bot_short_description() -> str:
    """The bot's profile page and shared links; plain text, at most MAX_SHORT_DESCRIPTION_CHARS."""
    return _("Films picked for you, each with a reason: a safe pick, something adjacent and a wildcard.")
