"""The rules that read a wish typed after /recommend (domain/wishes/), the validation of a
language model's answer, and the one-off filter a wish becomes (Preferences)."""

from __future__ import annotations

import time

import pytest

from db.repositories.films import FilmRow
from domain.preferences import PREFERENCE_MIN_FILMS, Preferences, _preferred
from domain.wishes import (
    GENRES,
    MAX_WISH_CHARS,
    MOOD_GENRES,
    SHORT_UNDER_MINUTES,
    Mood,
    Wish,
    WishAnswer,
    merged,
    parse_wish,
    preferences_for,
    wish_from_model,
)

YEAR = 2026
NINETIES = {"min_year": 1990, "max_year": 1999}
SHORT = {"max_runtime": SHORT_UNDER_MINUTES - 1}


def parse(text: str) -> Wish:
    return parse_wish(text, current_year=YEAR)


def expect(**fields: object) -> Wish:
    return Wish(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        # the examples
        ("a short 90s comedy", expect(genres=("Comedy",), **NINETIES, **SHORT)),
        ("korean thriller", expect(genres=("Thriller",), languages=("ko",))),
        ("something like Alien but funnier", expect(moods=(Mood.FUNNY,), like="Alien")),
        # English decades, years, ranges
        ("1990s comedy", expect(genres=("Comedy",), **NINETIES)),
        ("'90s comedy", expect(genres=("Comedy",), **NINETIES)),
        ("comedy from the nineties", expect(genres=("Comedy",), **NINETIES)),
        ("a 1995 drama", expect(genres=("Drama",), min_year=1995, max_year=1995)),
        ("sci-fi 2000-2010", expect(genres=("Science Fiction",), min_year=2000, max_year=2010)),
        ("sci-fi 2000 – 2010", expect(genres=("Science Fiction",), min_year=2000, max_year=2010)),
        ("horror between 1970 and 1985", expect(genres=("Horror",), min_year=1970, max_year=1985)),
        ("from the 80s to the 90s", expect(min_year=1980, max_year=1999)),
        ("westerns before 1980", expect(genres=("Western",), max_year=1979)),
        ("animation after 2015", expect(genres=("Animation",), min_year=2016)),
        ("since 2015", expect(min_year=2015)),
        ("before the 90s", expect(max_year=1989)),
        ("until the 90s", expect(max_year=1999)),
        ("20s", expect(min_year=2020, max_year=2029)),  # a two-digit decade up to this one: this century
        ("30s noir", expect(moods=(Mood.DARK,), min_year=1930, max_year=1939)),
        ("a recent documentary", expect(genres=("Documentary",), min_year=YEAR - 9)),
        ("an old western", expect(genres=("Western",), max_year=1989)),
        # runtime
        ("a long war film", expect(genres=("War",), min_runtime=130)),
        ("under 2 hours", expect(max_runtime=119)),
        ("up to 90 min", expect(max_runtime=90)),
        ("over 2h", expect(min_runtime=121)),
        ("at least 100 minutes", expect(min_runtime=100)),
        ("90 minutes or less", expect(max_runtime=90)),
        ("an hour and a half", expect(max_runtime=90)),
        ("not too long", expect(max_runtime=129)),
        # genres, moods, exclusions
        ("feel-good rom-com", expect(genres=("Romance", "Comedy"), moods=(Mood.FEEL_GOOD,))),
        ("action comedy", expect(genres=("Action", "Comedy"))),
        ("scary movie, no gore", expect(moods=(Mood.SCARY,), unknown=("gore",))),
        ("a thriller without horror", expect(genres=("Thriller",), without_genres=("Horror",))),
        ("something dark and slow", expect(moods=(Mood.DARK, Mood.SLOW))),
        ("mind-bending sci-fi", expect(genres=("Science Fiction",), moods=(Mood.MIND_BENDING,))),
        # languages and countries (CLDR names, demonyms)
        ("in Japanese", expect(languages=("ja",))),
        ("a french film", expect(languages=("fr",))),
        ("chinese drama", expect(genres=("Drama",), languages=("zh", "cn"))),
        ("from Japan", expect(countries=("JP",))),
        ("british comedy", expect(genres=("Comedy",), countries=("GB",))),
        ("something from South Korea", expect(countries=("KR",))),
        ("soviet sci-fi", expect(genres=("Science Fiction",), countries=("SU",))),
        ("made in the USA", expect(countries=("US",))),
        # reference films
        ("like Pride and Prejudice", expect(like="Pride and Prejudice")),
        ("like In the Mood for Love", expect(like="In the Mood for Love")),
        ("similar to The Thing, but shorter", expect(like="The Thing", max_runtime=SHORT_UNDER_MINUTES - 1)),
        ("something like Heat from the 90s", expect(like="Heat", **NINETIES)),
        ("I'd like a comedy", expect(genres=("Comedy",))),  # "like" a verb: no reference
        ("like a comedy", expect(genres=("Comedy",))),  # only known words: no reference
        # Russian
        ("короткую комедию 90-х", expect(genres=("Comedy",), **NINETIES, **SHORT)),
        ("корейский триллер", expect(genres=("Thriller",), languages=("ko",))),
        ("девяностые", expect(**NINETIES)),
        ("фильм ужасов девяностых годов", expect(genres=("Horror",), **NINETIES)),
        ("фантастика с 2000 по 2010", expect(genres=("Science Fiction",), min_year=2000, max_year=2010)),
        ("мультфильм до 1980", expect(genres=("Animation",), max_year=1979)),
        ("драма не больше 2 часов", expect(genres=("Drama",), max_runtime=120)),
        ("что-нибудь на японском", expect(languages=("ja",))),
        ("кино из Японии", expect(countries=("JP",))),
        ("британская комедия", expect(genres=("Comedy",), countries=("GB",))),
        ("что-то вроде Чужого, но смешнее", expect(moods=(Mood.FUNNY,), like="Чужого")),
        ("длинный военный фильм", expect(genres=("War",), min_runtime=130)),
        ("без ужасов", expect(without_genres=("Horror",))),
        # Spanish
        ("una comedia corta de los años 90", expect(genres=("Comedy",), **NINETIES, **SHORT)),
        ("thriller coreano", expect(genres=("Thriller",), languages=("ko",))),
        ("película de terror de los noventa", expect(genres=("Horror",), **NINETIES)),
        (
            "ciencia ficción entre 2000 y 2010",
            expect(genres=("Science Fiction",), min_year=2000, max_year=2010),
        ),
        ("menos de 2 horas", expect(max_runtime=119)),
        ("una película francesa", expect(languages=("fr",))),
        ("de Corea del Sur", expect(countries=("KR",))),
        ("algo como Alien pero más divertida", expect(moods=(Mood.FUNNY,), like="Alien")),
        ("sin terror", expect(without_genres=("Horror",))),
        ("antes de los 90", expect(max_year=1989)),
        ("antes de 1980", expect(max_year=1979)),
        ("desde 2015", expect(min_year=2015)),
        ("comedia de 1995", expect(genres=("Comedy",), min_year=1995, max_year=1995)),
        ("película de 90 minutos", expect(max_runtime=90)),  # "de 90" alone is no decade
        # Portuguese
        ("uma comédia curta dos anos 90", expect(genres=("Comedy",), **NINETIES, **SHORT)),
        ("suspense coreano", expect(genres=("Thriller",), languages=("ko",))),
        ("faroeste dos anos noventa", expect(genres=("Western",), **NINETIES)),
        (
            "ficção científica de 2000 a 2010",
            expect(genres=("Science Fiction",), min_year=2000, max_year=2010),
        ),
        ("até 90 minutos", expect(max_runtime=90)),
        ("um filme em japonês", expect(languages=("ja",))),
        ("filme do Japão", expect(countries=("JP",))),
        ("algo parecido com Alien mas mais engraçado", expect(moods=(Mood.FUNNY,), like="Alien")),
        ("comédia brasileira", expect(genres=("Comedy",), countries=("BR",))),
        ("depois dos anos 80", expect(min_year=1990)),
        ("algo tipo Amélie mas curto", expect(like="Amélie", **SHORT)),
        ("um tipo de comédia", expect(genres=("Comedy",))),  # "tipo" before known words: no reference
        ("a partir de 2010", expect(min_year=2010)),
    ],
)
def test_rules_read_wishes(text: str, wanted: Wish) -> None:
    assert parse(text) == wanted


@pytest.mark.parametrize("text", ["zzzz", "qwerty asdf", "blorp the flimflam", "ыыы", "", "   ", "🎬🍿"])
def test_nonsense_is_not_understood(text: str) -> None:
    wish = parse(text)
    assert not wish.understood
    assert wish.unknown == tuple(w for w in text.casefold().split() if w.isalpha() and w not in ("the",))


def test_unknown_words_are_collected_beside_what_was_understood() -> None:
    wish = parse("a korean thriller for a rainy sunday")
    assert (wish.genres, wish.languages) == (("Thriller",), ("ko",))
    assert wish.unknown == ("rainy", "sunday")
    assert wish.understood


def test_every_genre_is_named_in_english_and_its_translations() -> None:
    for genre in GENRES:
        assert parse(genre.lower()).genres == (genre,), genre
    # bot/locales/*/LC_MESSAGES/messages.po translations of the TMDB genre names
    translations = {
        "Комедия": "Comedy",
        "Ужасы": "Horror",
        "Мелодрама": "Romance",
        "Детектив": "Mystery",
        "Военный": "War",
        "Comedia": "Comedy",
        "Suspense": "Thriller",
        "Bélica": "War",
        "Película de TV": "TV Movie",
        "Comédia": "Comedy",
        "Faroeste": "Western",
        "Ficção científica": "Science Fiction",
        "Documentário": "Documentary",
    }
    for word, genre in translations.items():
        assert parse(word).genres == (genre,), word


def test_moods_map_to_their_genres() -> None:
    wish = parse("funny and scary")
    assert wish.moods == (Mood.FUNNY, Mood.SCARY)
    assert wish.mood_genres == ("Comedy", "Horror")
    assert set(MOOD_GENRES) == set(Mood)
    assert all(set(genres) <= set(GENRES) for genres in MOOD_GENRES.values())


# --- the model's answer ----------------------------------------------------------------------------


def answer(**fields: object) -> WishAnswer:
    empty: dict[str, object] = {
        "genres": [],
        "without_genres": [],
        "min_year": None,
        "max_year": None,
        "min_runtime": None,
        "max_runtime": None,
        "languages": [],
        "countries": [],
        "like_title": None,
    }
    return WishAnswer.model_validate(empty | fields)


def test_a_valid_model_answer_becomes_a_wish() -> None:
    wish, dropped = wish_from_model(
        answer(
            genres=["family", "Comedy"],
            min_year=1990,
            max_year=1999,
            max_runtime=95,
            languages=["KO", "zh"],
            countries=["kr"],
            like_title="  Toy   Story ",
        ),
        current_year=YEAR,
    )
    assert dropped == []
    assert wish == Wish(
        genres=("Family", "Comedy"),
        min_year=1990,
        max_year=1999,
        max_runtime=95,
        languages=("ko", "zh", "cn"),
        countries=("KR",),
        like="Toy Story",
    )


def test_an_invalid_model_answer_is_dropped_not_trusted() -> None:
    wish, dropped = wish_from_model(
        answer(
            genres=["Cyberpunk", "[fake LLM] x"],
            without_genres=["Gore"],
            min_year=0,
            max_year=3000,
            min_runtime=-5,
            max_runtime=10_000,
            languages=["xx", "klingon"],
            countries=["ZZZ", "Q1"],
            like_title="x" * 500,
        ),
        current_year=YEAR,
    )
    assert wish == Wish()
    assert not wish.understood
    assert set(dropped) == {
        "genres",
        "without_genres",
        "min_year",
        "max_year",
        "min_runtime",
        "max_runtime",
        "languages",
        "countries",
        "like_title",
    }


def test_crossed_bounds_from_the_model_are_dropped() -> None:
    wish, dropped = wish_from_model(
        answer(min_year=2010, max_year=1990, min_runtime=150, max_runtime=90), current_year=YEAR
    )
    assert wish == Wish()
    assert sorted(dropped) == ["max_runtime", "max_year", "min_runtime", "min_year"]


def test_the_rules_win_and_the_model_fills_the_rest() -> None:
    rules = parse("a short comedy for a rainy sunday")
    model = Wish(genres=("Family",), min_year=2000, max_year=2009, max_runtime=150, languages=("en",))
    both = merged(rules, model)
    assert both.genres == ("Comedy",)  # the rules named a genre
    assert both.max_runtime == SHORT_UNDER_MINUTES - 1  # and a length
    assert (both.min_year, both.max_year, both.languages) == (2000, 2009, ("en",))  # the model's additions
    assert both.unknown == ("rainy", "sunday")


# --- the filter ------------------------------------------------------------------------------------


def film(tmdb_id: int = 1, **fields: object) -> FilmRow:
    values: dict[str, object] = {
        "title": "A film",
        "year": 1995,
        "genres": ("Comedy",),
        "keywords": (),
        "popularity": 10.0,
        "vote_average": 7.0,
        "vote_count": 100,
        "original_language": "en",
        "runtime": 90,
        "countries": ("US",),
    }
    return FilmRow(tmdb_id=tmdb_id, **(values | fields))  # type: ignore[arg-type]


def test_a_short_90s_comedy_admits_only_short_90s_comedies() -> None:
    preferences = preferences_for(parse("a short 90s comedy"))
    assert preferences.strict
    assert preferences.admits(film())
    assert not preferences.admits(film(runtime=100))  # "short" is under 100 minutes
    assert not preferences.admits(film(runtime=None))
    assert not preferences.admits(film(year=2000))
    assert not preferences.admits(film(genres=("Drama",)))


@pytest.mark.parametrize(
    ("text", "row", "admitted"),
    [
        ("korean thriller", film(genres=("Thriller", "Drama"), original_language="ko"), True),
        ("korean thriller", film(genres=("Thriller",), original_language="ja"), False),
        ("korean thriller", film(genres=("Thriller",), original_language=None), False),
        ("from Japan", film(countries=("JP", "US")), True),
        ("from Japan", film(countries=()), False),  # countries unknown (no details): fails the bound
        ("action comedy", film(genres=("Comedy",)), False),  # every genre named is required
        ("action comedy", film(genres=("Action", "Comedy", "Crime")), True),
        ("funny or scary", film(genres=("Horror",)), True),  # moods: any of their genres
        ("thriller without horror", film(genres=("Thriller", "Horror")), False),
        ("funny horror", film(genres=("Horror",)), False),  # the named genre and a mood genre
        ("funny horror", film(genres=("Horror", "Comedy")), True),
    ],
)
def test_wish_filters(text: str, row: FilmRow, admitted: bool) -> None:
    assert preferences_for(parse(text)).admits(row) is admitted


def test_the_reference_film_is_never_picked_and_films_near_it_are_preferred() -> None:
    films = {i: film(i) for i in range(1, 11)}
    near = (2, 3, 4, 99)
    preferences = preferences_for(parse("like Alien"), like=1, near=near)
    assert not preferences.admits(films[1])
    assert set(_preferred(films, preferences)) == {2, 3, 4}
    # fewer than PREFERENCE_MIN_FILMS near ones pass: all passing films stay
    few = preferences_for(parse("like Alien"), like=1, near=(2, 99))
    assert set(_preferred(films, few)) == set(range(2, 11))


def test_a_strict_wish_keeps_its_filter_when_few_films_pass() -> None:
    films = {
        1: film(1),
        2: film(2, genres=("Drama",)),
        3: film(3, genres=("Drama",)),
        4: film(4, genres=("War",)),
    }
    assert PREFERENCE_MIN_FILMS > 1
    assert set(_preferred(films, preferences_for(parse("comedy")))) == {1}
    assert _preferred(films, preferences_for(parse("western"))) == {}
    # a clarifying answer (not strict) is dropped instead
    assert set(_preferred(films, Preferences(genres=("Comedy",)))) == {1, 2, 3, 4}


@pytest.mark.parametrize("text", ["like " * 300, "and like Pride and " * 100, "90s " * 200, "не " * 300])
def test_long_or_odd_texts_are_read_quickly(text: str) -> None:
    parse("warm up")
    started = time.perf_counter()
    wish = parse(text)
    assert time.perf_counter() - started < 1.0
    assert len(" ".join(wish.unknown)) <= MAX_WISH_CHARS
