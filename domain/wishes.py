"""Wishes typed after /recommend ("a short 90s comedy", "korean thriller", "something like
Alien but funnier"): the rules that read them, the schema a language model answers in when the
rules leave words unexplained, and the one-off recommender filter a wish stands for.

Everything here is pure (no I/O): :func:`parse_wish` reads a text with the rules below,
:func:`wish_from_model` validates a model's answer against the same vocabulary, :func:`merged`
joins the two (the rules win), and :func:`preferences_for` turns a wish into
:class:`domain.recommendations.Preferences`. The service around them is
`domain.wish_picks.WishService`.

**What the rules understand** (English, Russian, Spanish, Portuguese; case and accents are
ignored, Russian words are matched by their stem so "комедию", "комедии" are "комедия"):

- *genres*: TMDB's genre names (:data:`GENRES`) in the four languages, with synonyms
  ("sci-fi", "rom-com", "мультик", "de terror", "faroeste", …: :data:`GENRE_WORDS`). Every
  genre named is wanted ("action comedy": both). "no horror", "без ужасов", "sin terror",
  "sem terror" exclude one.
- *moods* (:data:`MOOD_WORDS` → :data:`MOOD_GENRES`): funny → Comedy; feel-good → Comedy,
  Family, Romance or Animation; dark → Crime, Horror, Mystery or Thriller; scary → Horror;
  slow → Drama; exciting → Action, Adventure or Thriller; moving → Drama or Romance;
  mind-bending → Science Fiction or Mystery. A film fits the moods when it has one of the
  genres of any mood named ("funnier", "смешнее" count too).
- *decades and years*: "90s", "1990s", "'90s", "nineties", "девяностые", "90-х", "años 90",
  "anos noventa", "década de 1990" → 1990–1999 (a two-digit decade up to this one is this
  century's: "20s" is 2020–2029 in 2026, "30s" is 1930–1939); "1995"; "2000-2010",
  "between 2000 and 2010", "с 2000 по 2010", "entre 2000 y 2010", "de 2000 a 2010"; "before
  1980" (…1979), "after 2015" (2016…), "since 2015" (2015…), "until 1980" (…1980), and the
  same with a decade ("before the 90s" is …1989). "new"/"recent" is the last
  `clarify.NEW_YEARS` years, "old"/"classic" before `clarify.OLD_BEFORE`.
- *runtime*: "short" is under 100 minutes (:data:`SHORT_UNDER_MINUTES`; the clarifying
  question's "short" is up to 100), "long" at least `clarify.LONG_MIN_MINUTES` (130); "under
  2 hours" (…119), "up to 90 min" (…90), "over 2h" (121…), "at least 100 minutes",
  "меньше 100 минут", "до 2 часов", "menos de 2 horas", "até 90 minutos"; a bare length ("a 90
  minute film") is a ceiling. "not too long" is under 130, "not short" at least 100.
- *original language*: language names in the four languages from babel's CLDR data for the
  languages of :data:`FILM_LANGUAGES` ("korean", "in Japanese", "французский", "coreana",
  "em português"); "chinese" is both "zh" and TMDB's "cn" (Cantonese).
- *production country*: country names from babel's CLDR data ("from Japan", "из Японии",
  "de Corea del Sur") plus :data:`COUNTRY_WORDS` ("british", "american", "soviet", "uk",
  "usa", "hollywood", "британский", "mexicana", "brasileiro", …).
- *a reference film*: "like X", "something like X", "similar to X", "in the vein of X", "как
  X", "похожий на X", "вроде X", "como X", "parecida a X", "parecido com X", "tipo X"; the
  title runs to the next "but", "and", "with", "from", "in", comma… ("like Alien but
  funnier": Alien; "I'd like a comedy" is no reference). The service finds it in the
  catalog the way /review does.

Words that are none of these and not filler ("a", "film", "хочу", "película", …:
:data:`STOP_WORDS`) are collected in `Wish.unknown`: with a language model configured, only
then is it asked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache

from babel import Locale
from pydantic import BaseModel, Field

from domain.clarify import LONG_MIN_MINUTES, NEW_YEARS, OLD_BEFORE, SHORT_MAX_MINUTES
from domain.parsing import MAX_FILM_YEAR_AHEAD, MIN_FILM_YEAR
from domain.recommendations import Preferences

#: TMDB's movie genres (https://developer.themoviedb.org/reference/genre-movie-list), as stored.
GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Science Fiction",
    "TV Movie",
    "Thriller",
    "War",
    "Western",
)
#: "short": a runtime under this many minutes (the issue's "under 100 minutes"; in TMDB 5000
#: 43% of the films run at most 100 min, see domain.clarify).
SHORT_UNDER_MINUTES = SHORT_MAX_MINUTES
#: Sane runtime bounds, in minutes: a bound outside them (a model's answer) is dropped.
MIN_RUNTIME = 1
MAX_RUNTIME = 600
#: Longest reference title kept, in characters.
MAX_TITLE_CHARS = 100
#: Languages the rules know by name (ISO 639-1, as TMDB's `original_language`), named in
#: the four bot languages by babel. "yue" (Cantonese) is TMDB's "cn".
FILM_LANGUAGES: tuple[str, ...] = tuple(
    re.findall(
        r"\w+",
        "en fr es de it ja ko zh ru pt hi sv da no fi nl pl tr fa ar he th id cs hu el ro uk ta te "
        "ml bn vi tl is ka sr hr bg et lv lt sk sl ms ur pa mr kn gu kk yue",
    )
)
#: A named language → the `original_language` codes it stands for in TMDB's data.
LANGUAGE_CODES: dict[str, tuple[str, ...]] = {"zh": ("zh", "cn"), "yue": ("cn",), "no": ("no", "nb")}
#: The bot's languages: the rules read wishes in these.
WISH_LOCALES = ("en", "ru", "es", "pt")


class Mood(StrEnum):
    FUNNY = "funny"
    FEEL_GOOD = "feel_good"
    DARK = "dark"
    SCARY = "scary"
    SLOW = "slow"
    EXCITING = "exciting"
    MOVING = "moving"
    MIND_BENDING = "mind_bending"


#: Mood → the genres that stand for it (a film with any of them fits).
MOOD_GENRES: dict[Mood, tuple[str, ...]] = {
    Mood.FUNNY: ("Comedy",),
    Mood.FEEL_GOOD: ("Comedy", "Family", "Romance", "Animation"),
    Mood.DARK: ("Crime", "Horror", "Mystery", "Thriller"),
    Mood.SCARY: ("Horror",),
    Mood.SLOW: ("Drama",),
    Mood.EXCITING: ("Action", "Adventure", "Thriller"),
    Mood.MOVING: ("Drama", "Romance"),
    Mood.MIND_BENDING: ("Science Fiction", "Mystery"),
}


@dataclass(frozen=True, slots=True)
class Wish:
    """What a text asks for. Empty tuples and None mean "any".

    - `genres`: TMDB genre names, every one wanted; `without_genres`: none of them;
    - `moods`: a film fits when it has a genre of one of them (MOOD_GENRES);
    - `min_year`/`max_year`: release year bounds, inclusive;
    - `min_runtime`/`max_runtime`: minutes, inclusive;
    - `languages`: ISO 639-1 original languages (one of); `countries`: ISO 3166-1 alpha-2
      production countries (one of; "SU" is the Soviet Union, as in TMDB);
    - `like`: a reference film's title as typed (found in the catalog by the service);
    - `unknown`: the words no rule explained, in order.
    """

    genres: tuple[str, ...] = ()
    without_genres: tuple[str, ...] = ()
    moods: tuple[Mood, ...] = ()
    min_year: int | None = None
    max_year: int | None = None
    min_runtime: int | None = None
    max_runtime: int | None = None
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    like: str | None = None
    unknown: tuple[str, ...] = ()

    @property
    def understood(self) -> bool:
        """Whether anything in the text was understood (a filter or a reference film)."""
        return self.filters or self.like is not None

    @property
    def filters(self) -> bool:
        """Whether the wish narrows the films (anything but `like` and `unknown`)."""
        return bool(
            self.genres
            or self.without_genres
            or self.moods
            or self.languages
            or self.countries
            or any(v is not None for v in (self.min_year, self.max_year, self.min_runtime, self.max_runtime))
        )

    @property
    def mood_genres(self) -> tuple[str, ...]:
        """The genres of the moods, in MOOD_GENRES order, without repeats."""
        return tuple(dict.fromkeys(g for mood in self.moods for g in MOOD_GENRES[mood]))


def _phrases(text: str) -> tuple[str, ...]:
    """A vocabulary list written as "phrase | phrase | …"."""
    return tuple(" ".join(p.split()) for p in text.split("|") if p.strip())


# --- the vocabulary ------------------------------------------------------------------------------
# Entries are normalised phrases (see _norm); a word ending in "*" is a stem: it matches a word
# that starts with it and has at most STEM_SLACK more letters (Russian endings: "комеди*" is
# "комедия", "комедию", "комедий"). Hyphens join words ("sci-fi" is "scifi").
STEM_SLACK = 4
#: Most words in one vocabulary phrase ("united states of america"); CLDR names longer than
#: this (remote islands) are left out.
MAX_PHRASE_WORDS = 5
#: Characters of a wish read (a wish is a few words; longer text is cut).
MAX_WISH_CHARS = 300

#: Genre → words and phrases naming it (besides the genre's own name, matched too).
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": _phrases("action | боевик* | экшн | экшен | accion | acao"),
    "Adventure": _phrases(
        "adventure | adventures | adventurous | приключени* | приключенческ* | aventura | aventuras"
    ),
    "Animation": _phrases(
        "animation | animated | cartoon | cartoons | anime | мультфильм* | мультик* | мульт | анимаци* | "
        "анимационн* | аниме | animacion | animada | animadas | animado | animados | dibujos animados | "
        "animacao | desenho animado | desenhos animados"
    ),
    "Comedy": _phrases("comedy | comedies | comedic | комеди* | комедийн* | comedia | comedias"),
    "Crime": _phrases(
        "crime | crimes | gangster | gangsters | heist | mafia | криминал* | гангстерск* | crimen | "
        "policiaca | policiaco | policial | policiais"
    ),
    "Documentary": _phrases(
        "documentary | documentaries | doc | docs | документальн* | документалк* | documental | "
        "documentales | documentario | documentarios"
    ),
    "Drama": _phrases("drama | dramas | dramatic | драм* | драматическ* | dramatica | dramatico"),
    "Family": _phrases(
        "family | kids | children | семейн* | детск* | для детей | familia | familiar | familiares | "
        "infantil | infantiles | para ninos | para criancas"
    ),
    "Fantasy": _phrases("fantasy | фэнтези | фентези | сказк* | fantasia"),
    "History": _phrases("history | historical | истори* | исторически* | historia | historica | historico"),
    "Horror": _phrases("horror | horrors | slasher | zombie | zombies | ужас* | ужастик* | хоррор* | terror"),
    "Music": _phrases(
        "music | musical | musicals | музык* | музыкальн* | мюзикл* | musica | musicales | musicais"
    ),
    "Mystery": _phrases(
        "mystery | mysteries | whodunit | whodunnit | детектив* | misterio | misterios | detetive"
    ),
    "Romance": _phrases(
        "romance | romances | romantic | love story | мелодрам* | романтическ* | романтик* | про любовь | "
        "история любви | romantica | romantico | romanticas | de amor | historia de amor"
    ),
    "Science Fiction": _phrases(
        "science fiction | scifi | sf | фантастик* | научн* фантастик* | научнофантастическ* | ciencia "
        "ficcion | cienciaficcion | ficcao cientifica"
    ),
    "TV Movie": _phrases("tv movie | tv film | телефильм* | pelicula de tv | telefilme | filme de tv"),
    "Thriller": _phrases("thriller | thrillers | suspense | триллер* | suspenso"),
    "War": _phrases("war | военн* | про войну | войн* | belica | belico | belicas | guerra"),
    "Western": _phrases(
        "western | westerns | cowboy | cowboys | вестерн* | del oeste | faroeste | faroestes"
    ),
}
#: Phrases naming two genres at once.
GENRE_PAIRS: dict[str, tuple[str, ...]] = {
    "romcom": ("Romance", "Comedy"),
    "rom com": ("Romance", "Comedy"),
    "romantic comedy": ("Romance", "Comedy"),
    "романтическ* комеди*": ("Romance", "Comedy"),
    "comedia romantica": ("Romance", "Comedy"),
    "action comedy": ("Action", "Comedy"),
}
#: Mood → words and phrases for it (comparatives too: "funnier", "смешнее").
MOOD_WORDS: dict[Mood, tuple[str, ...]] = {
    Mood.FUNNY: _phrases(
        "funny | funnier | funniest | fun | hilarious | humorous | humor | humour | comic | goofy | silly "
        "| laugh | смешн* | смешнее | весел* | веселее | юмор* | угарн* | посмеяться | divertida | "
        "divertido | divertidas | divertidos | graciosa | gracioso | chistosa | chistoso | reir | "
        "engracado | engracada | engracados | rir"
    ),
    Mood.FEEL_GOOD: _phrases(
        "feelgood | feel good | uplifting | heartwarming | wholesome | cozy | cosy | cheerful | happy | "
        "добр* | уютн* | позитивн* | жизнеутверждающ* | легк* | optimista | reconfortante | alegre | "
        "ligera | ligero | tierna | tierno | alto astral | leve | fofo | fofa | otimista"
    ),
    Mood.DARK: _phrases(
        "dark | darker | darkest | bleak | grim | gritty | disturbing | noir | мрачн* | темн* | oscura | "
        "oscuro | oscuras | sombria | sombrio | perturbadora | obscuro | obscura | pesado | pesada | "
        "perturbador"
    ),
    Mood.SCARY: _phrases(
        "scary | scarier | scariest | spooky | creepy | frightening | terrifying | chilling | страшн* | "
        "страшнее | жутк* | пугающ* | miedo | aterradora | aterrador | espeluznante | terrorifica | "
        "assustador | assustadora | arrepiante | medo | aterrorizante"
    ),
    Mood.SLOW: _phrases(
        "slow | slowburn | slow burn | contemplative | meditative | quiet | calm | медленн* | неспешн* | "
        "созерцательн* | спокойн* | lenta | lento | pausada | contemplativa | contemplativo | tranquila | "
        "tranquilo | calmo | calma"
    ),
    Mood.EXCITING: _phrases(
        "exciting | thrilling | intense | tense | gripping | suspenseful | actionpacked | action packed | "
        "adrenaline | захватывающ* | напряженн* | динамичн* | emocionante | trepidante | intensa | "
        "intenso | tensa | tenso | eletrizante"
    ),
    Mood.MOVING: _phrases(
        "moving | touching | sad | emotional | tearjerker | tear jerker | heartbreaking | poignant | "
        "трогательн* | грустн* | печальн* | душевн* | triste | conmovedora | conmovedor | emotiva | "
        "emotivo | emocional | comovente | tocante"
    ),
    Mood.MIND_BENDING: _phrases(
        "mindbending | mind bending | mind blowing | mindblowing | trippy | cerebral | twisty | запутанн* "
        "| умн* | enrevesada | inteligente | intrigante"
    ),
}
#: Country → demonyms and other names CLDR lacks ("british", "hollywood", "ussr").
COUNTRY_WORDS: dict[str, tuple[str, ...]] = {
    "GB": _phrases(
        "british | brit | uk | britain | great britain | england | британск* | англи* | britanica | "
        "britanico | britanicas | britanicos"
    ),
    "US": _phrases(
        "american | usa | america | hollywood | united states of america | америк* | американск* | "
        "голливудск* | сша | estadounidense | norteamericana | norteamericano | americana | americano | "
        "hollywoodense | estadunidense | eua | eeuu | ee uu"
    ),
    "SU": _phrases(
        "soviet | soviet union | ussr | ссср | советск* | sovietica | sovietico | union sovietica | uniao "
        "sovietica | urss"
    ),
    "KR": _phrases("korea | south korea | коре* | южн* коре* | corea | coreia"),
    "HK": _phrases("hong kong | гонконг* | hongkones | honconguesa | hongkonguesa"),
    "AU": _phrases("australian | австралийск* | australiana | australiano"),
    "CA": _phrases("canadian | канадск* | canadiense | canadense"),
    "IE": _phrases("irish | ирландск* | irlandesa | irlandes"),
    "MX": _phrases("mexican | мексиканск* | mexicana | mexicano"),
    "BR": _phrases("brazilian | бразильск* | brasilena | brasileno | brasileiro | brasileira"),
    "AR": _phrases("argentinian | argentine | аргентинск* | argentino"),
    "IN": _phrases("indian | bollywood | индийск* | инди* | болливудск* | indio | indiano | indiana"),
    "NL": _phrases("holland | голланд*"),
    "CZ": _phrases("czech republic"),
    "TR": _phrases("turkey"),
    "NZ": _phrases("new zealand | kiwi"),
}
#: Country names CLDR has that are common words in a wish: not read as countries.
COUNTRY_NAME_CLASHES = frozenset({"chad", "jersey", "jordan", "guinea", "georgia", "того", "mali", "man"})

#: Filler: words that say nothing about the films wanted.
STOP_WORDS: frozenset[str] = frozenset(
    re.findall(
        r"\S+",
        """
    a an the some something anything any film films movie movies flick flicks picture one ones me i
    we us you want wanna would d i'd we'd please show give recommend find get pick suggest good great
    nice best really very with for of to from in on at by about that which is are be tonight today
    watch see watching to maybe kind sort type style genre vibe vibes bit little more most so and or
    but yet plus also too just only than then mood era decade decades year years made set please
    something's kinda pretty quite cinema night evening weekend time me my our what's whatever
    ok okay perhaps rather mostly type
    фильм* кино кинофильм* что нибудь чтонибудь чтото что то какой нибудь какойнибудь какую нибудь
    какуюнибудь какое нибудь какоенибудь хочу хочется хотим посмотреть посоветуй посоветуйте покажи
    покажите найди найдите подбери подберите мне нам хорош* годн* интересн* про о об в во на из с со
    и но а или да ну годов года годы год лет жанр* сегодня вечер* пожалуйста нибудь то же какой
    какую какое какие штук* пару что это этот эту
    una un unos unas el la los las lo algo alguna alguno película peliculas pelicula peli pelis cine
    de del en con para por que quiero ver recomienda recomiendame recomiendeme dame muestrame buena
    bueno buenas buenos y e o pero mas esta noche hoy tipo genero anos ano al me nos favor porfa
    um uma uns umas o os as algum alguma filme filmes do da dos das em no na nos nas com quero assistir
    recomenda recomende mostra mostre bom boa bons boas mas ou hoje noite genero anos ano ao aos pra
    like likes similar mais
    """,
    )
)
#: Words that turn the next genre, "short"/"long" or "new"/"old" around ("no horror", "not too long").
NEGATIONS = frozenset(
    {"not", "no", "without", "non", "never", "не", "без", "нет", "sin", "nada", "sem", "nao"}
)
#: Words after which "like" is a verb ("I'd like a comedy", "feel like something funny").
LIKE_VERB_BEFORE = frozenset(
    {
        "i",
        "we",
        "you",
        "they",
        "would",
        "i'd",
        "we'd",
        "you'd",
        "d",
        "really",
        "also",
        "do",
        "don't",
        "dont",
        "feel",
        "feels",
        "looks",
        "look",
        "sounds",
    }
)
#: A reference film follows these ("something like Alien"); the longest wins.
LIKE_MARKERS: tuple[str, ...] = _phrases(
    "like | similar to | in the vein of | in the style of | the likes of | reminiscent of | a la | как | "
    "похож* на | вроде | типа | наподобие | в духе | в стиле | по типу | como | parecida a | parecido a | "
    "parecidas a | parecidos a | similar a | al estilo de | estilo | tipo | parecido com | parecida com | "
    "semelhante a | no estilo de"
)
#: A reference title ends before these (or punctuation).
TITLE_BREAKS = frozenset(
    re.findall(
        r"\S+",
        """
    but and yet only just though although except with without from in set made that which or plus
    only really
    но а и только с без из или зато однако чтобы
    pero y con sin aunque solo o que del mas
    mas e com sem porem so ou que
    """,
    )
)

#: Breaks that may also join the words of a title ("Pride and Prejudice", "Lost in Translation").
TITLE_JOINS = frozenset({"and", "in", "и", "в", "y", "e", "en", "de", "em"})

# --- comparators for years and runtimes --------------------------------------------------------


class _Bound(StrEnum):
    BEFORE = "before"  # exclusive upper bound
    UNTIL = "until"  # inclusive upper bound
    AFTER = "after"  # exclusive lower bound
    SINCE = "since"  # inclusive lower bound


_YEAR_BOUNDS: dict[str, _Bound] = {
    "before": _Bound.BEFORE,
    "pre": _Bound.BEFORE,
    "earlier than": _Bound.BEFORE,
    "older than": _Bound.BEFORE,
    "до": _Bound.BEFORE,
    "раньше": _Bound.BEFORE,
    "ранее": _Bound.BEFORE,
    "antes de": _Bound.BEFORE,
    "antes del": _Bound.BEFORE,
    "antes do": _Bound.BEFORE,
    "antes dos": _Bound.BEFORE,
    "antes de los": _Bound.BEFORE,
    "anterior a": _Bound.BEFORE,
    "antes": _Bound.BEFORE,
    "after": _Bound.AFTER,
    "post": _Bound.AFTER,
    "later than": _Bound.AFTER,
    "newer than": _Bound.AFTER,
    "после": _Bound.AFTER,
    "позже": _Bound.AFTER,
    "despues de": _Bound.AFTER,
    "despues del": _Bound.AFTER,
    "despues de los": _Bound.AFTER,
    "posterior a": _Bound.AFTER,
    "depois de": _Bound.AFTER,
    "depois do": _Bound.AFTER,
    "depois dos": _Bound.AFTER,
    "apos": _Bound.AFTER,
    "since": _Bound.SINCE,
    "starting": _Bound.SINCE,
    "от": _Bound.SINCE,
    "начиная с": _Bound.SINCE,
    "с": _Bound.SINCE,
    "со": _Bound.SINCE,
    "desde": _Bound.SINCE,
    "a partir de": _Bound.SINCE,
    "a partir del": _Bound.SINCE,
    "a partir do": _Bound.SINCE,
    "a partir dos": _Bound.SINCE,
    "until": _Bound.UNTIL,
    "till": _Bound.UNTIL,
    "up to": _Bound.UNTIL,
    "through": _Bound.UNTIL,
    "по": _Bound.UNTIL,
    "hasta": _Bound.UNTIL,
    "ate": _Bound.UNTIL,
}
#: "between X and Y", "from X to Y", "с X по Y", "entre X y Y", "de X a Y": (opening, joining words).
_RANGE_OPEN = ("between", "from", "между", "с", "со", "от", "entre", "de", "del", "desde", "dos", "das")
#: Articles between a comparison and a decade ("before the 90s").
_ARTICLES = ("the", "los", "os")
_RANGE_JOIN = (
    "and",
    "to",
    "until",
    "till",
    "through",
    "и",
    "по",
    "до",
    "y",
    "a",
    "al",
    "hasta",
    "e",
    "ate",
    "-",
)

_RUNTIME_BOUNDS: dict[str, _Bound] = {
    "under": _Bound.BEFORE,
    "less than": _Bound.BEFORE,
    "shorter than": _Bound.BEFORE,
    "below": _Bound.BEFORE,
    "<": _Bound.BEFORE,
    "меньше": _Bound.BEFORE,
    "менее": _Bound.BEFORE,
    "короче": _Bound.BEFORE,
    "menos de": _Bound.BEFORE,
    "de menos de": _Bound.BEFORE,
    "up to": _Bound.UNTIL,
    "at most": _Bound.UNTIL,
    "max": _Bound.UNTIL,
    "maximum": _Bound.UNTIL,
    "no more than": _Bound.UNTIL,
    "no longer than": _Bound.UNTIL,
    "within": _Bound.UNTIL,
    "≤": _Bound.UNTIL,
    "до": _Bound.UNTIL,
    "не больше": _Bound.UNTIL,
    "не более": _Bound.UNTIL,
    "не длиннее": _Bound.UNTIL,
    "максимум": _Bound.UNTIL,
    "hasta": _Bound.UNTIL,
    "maximo": _Bound.UNTIL,
    "como maximo": _Bound.UNTIL,
    "de maximo": _Bound.UNTIL,
    "ate": _Bound.UNTIL,
    "no maximo": _Bound.UNTIL,
    "over": _Bound.AFTER,
    "more than": _Bound.AFTER,
    "longer than": _Bound.AFTER,
    "above": _Bound.AFTER,
    ">": _Bound.AFTER,
    "больше": _Bound.AFTER,
    "более": _Bound.AFTER,
    "длиннее": _Bound.AFTER,
    "дольше": _Bound.AFTER,
    "mas de": _Bound.AFTER,
    "de mas de": _Bound.AFTER,
    "mais de": _Bound.AFTER,
    "at least": _Bound.SINCE,
    "min": _Bound.SINCE,
    "minimum": _Bound.SINCE,
    "≥": _Bound.SINCE,
    "от": _Bound.SINCE,
    "не меньше": _Bound.SINCE,
    "не менее": _Bound.SINCE,
    "минимум": _Bound.SINCE,
    "al menos": _Bound.SINCE,
    "como minimo": _Bound.SINCE,
    "pelo menos": _Bound.SINCE,
    "no minimo": _Bound.SINCE,
}
#: Trailing "or less" / "or more" after a length.
_RUNTIME_AFTER: dict[str, _Bound] = {
    "or less": _Bound.UNTIL,
    "or shorter": _Bound.UNTIL,
    "max": _Bound.UNTIL,
    "или меньше": _Bound.UNTIL,
    "o menos": _Bound.UNTIL,
    "ou menos": _Bound.UNTIL,
    "or more": _Bound.SINCE,
    "or longer": _Bound.SINCE,
    "plus": _Bound.SINCE,
    "+": _Bound.SINCE,
    "или больше": _Bound.SINCE,
    "o mas": _Bound.SINCE,
    "ou mais": _Bound.SINCE,
}
_HOURS = frozenset({"hour", "hours", "hr", "hrs", "h", "час", "часа", "часов", "ч", "hora", "horas"})
_MINUTES = frozenset(
    {"minute", "minutes", "min", "mins", "m", "минут", "минуты", "минута", "мин", "minuto", "minutos"}
)
_NUMBER_WORDS: dict[str, float] = {
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "один": 1,
    "одного": 1,
    "два": 2,
    "двух": 2,
    "три": 3,
    "трех": 3,
    "полтора": 1.5,
    "полутора": 1.5,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
}
_HALF = ("and a half", "с половиной", "y media", "e meia")
#: Decade words: "nineties", "девяностые", "noventa" (the last two after "años"/"anos").
_DECADE_WORDS: dict[str, int] = {
    "noughties": 0,
    "twenties": 2,
    "thirties": 3,
    "forties": 4,
    "fifties": 5,
    "sixties": 6,
    "seventies": 7,
    "eighties": 8,
    "nineties": 9,
}
_DECADE_WORDS.update(
    (stem + ending, decade)
    for decade, stem in (
        (0, "нулев"),
        (2, "двадцат"),
        (3, "тридцат"),
        (4, "сороков"),
        (5, "пятидесят"),
        (6, "шестидесят"),
        (7, "семидесят"),
        (8, "восьмидесят"),
        (9, "девяност"),
    )
    for ending in ("ые", "ых", "ыми", "ым")
)
_DECADE_NUMBER_WORDS: dict[str, int] = {
    "veinte": 2,
    "treinta": 3,
    "cuarenta": 4,
    "cincuenta": 5,
    "sesenta": 6,
    "setenta": 7,
    "ochenta": 8,
    "noventa": 9,
    "vinte": 2,
    "trinta": 3,
    "quarenta": 4,
    "cinquenta": 5,
    "sessenta": 6,
    "oitenta": 8,
}
#: Words after which a bare "90" or "noventa" is a decade: "años 90", "los 90", "anos noventa".
_DECADE_LEADS = frozenset({"anos", "los", "os", "decada", "decadas", "de"})
_NEW_WORDS = _phrases(
    "new | newer | recent | latest | modern | нов* | новинк* | свеж* | современн* | nueva | nuevo | "
    "nuevas | nuevos | reciente | recientes | moderna | moderno | novo | nova | novos | novas | recente | "
    "recentes"
)
_OLD_WORDS = _phrases(
    "old | older | classic | classics | vintage | стар* | классик* | классическ* | antigua | antiguo | "
    "antiguas | clasica | clasico | clasicas | clasicos | vieja | viejo | antigo | antiga | classico | "
    "classica | classicos | velho | velha"
)
_SHORT_WORDS = _phrases(
    "short | shorter | quick | brief | коротк* | короче | недлинн* | corta | corto | cortas | cortos | "
    "cortita | cortito | breve | curto | curta | curtos | curtas | curtinho | curtinha"
)
_LONG_WORDS = _phrases(
    "long | longer | lengthy | epic | длинн* | долг* | larga | largo | largas | largos | longo | longa | "
    "longos | longas"
)


class _Kind(StrEnum):
    GENRE = "genre"
    MOOD = "mood"
    SHORT = "short"
    LONG = "long"
    NEW = "new"
    OLD = "old"
    LANGUAGE = "language"
    COUNTRY = "country"
    NEGATION = "negation"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class _Term:
    kind: _Kind
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    words: tuple[str, ...]
    term: _Term

    @property
    def stems(self) -> int:
        return sum(w.endswith("*") for w in self.words)


@dataclass(frozen=True, slots=True)
class _Token:
    norm: str  # casefolded, accents and apostrophes folded, hyphens dropped
    start: int  # span in the text
    end: int


# --- normalising and tokens --------------------------------------------------------------------


def _fold(text: str) -> str:
    """Casefold and drop accents ("Comédia" → "comedia", "ё" → "е"; "й" stays "й")."""
    out = []
    for char in text.casefold():
        if char in "йЙ":
            out.append("й")
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


@cache
def _norm(phrase: str) -> tuple[str, ...]:
    """A vocabulary phrase as normalised words, a trailing "*" kept ("sci-fi" → ("scifi",),
    "научн* фантастик*" → ("научн*", "фантастик*")); symbols ("-", "<") stay as they are."""
    if phrase in ("-", "+", "<", ">", "≤", "≥"):
        return (phrase,)
    words = (re.sub(r"[^\w*']", "", _fold(w).replace("’", "'")) for w in phrase.split())
    return tuple(w for w in words if w)


_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)?(?:[-']?[^\W\d_]+)?"  # numbers, "90s", "90-е", "2h", "1.5h", "90min"
    r"|[^\W\d_]+(?:['’][^\W\d_]+)*"  # words, "i'd", "children's"
    r"|[-–—<>≤≥+]"  # a dash between years, comparisons
    r"|[,.;:!?()]"  # punctuation ends a reference title
)


def _tokens(text: str) -> list[_Token]:
    """Tokens of a text; hyphenated words are joined ("sci-fi" → "scifi", "что-то" → "чтото")."""
    raw = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    joined: list[tuple[str, int, int]] = []
    i = 0
    while i < len(raw):
        word, start, end = raw[i]
        while (
            i + 2 < len(raw)
            and raw[i + 1][0] == "-"
            and raw[i + 1][1] == end
            and raw[i + 2][1] == raw[i + 1][2]
            and word[-1:].isalpha()
            and raw[i + 2][0][:1].isalpha()
        ):
            word, end = word + raw[i + 2][0], raw[i + 2][2]
            i += 2
        joined.append((word, start, end))
        i += 1
    tokens = []
    for word, start, end in joined:
        norm = _fold(word).replace("’", "'")
        norm = re.sub(r"'s$", "", norm) if norm[:1].isalpha() else norm
        norm = "-" if norm in ("–", "—") else norm
        tokens.append(_Token(norm, start, end))
    return tokens


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        return word.startswith(stem) and len(word) - len(stem) <= STEM_SLACK
    return pattern == word


# --- the lexicon ------------------------------------------------------------------------------


def _stem_name(name: str, locale: str) -> str:
    """A language or country name as a pattern: Russian names and Spanish/Portuguese adjectives
    as stems ("корейский" → "корейск*", "coreano" → "corean*"), others as they are."""
    if locale == "ru" and " " not in name:
        # adjectives lose their ending ("корейский" → "корейск"), nouns their last vowel
        # ("япония" → "япони": "японии", "японию"; "китай" → "кита": "китая")
        stem = re.sub(r"(?:[иыо]й|[ая]я|[оеё]е|[иы]е)$|[аеиоуыэюяйь]$", "", name)
        return stem + "*" if len(stem) >= 4 else name
    if locale in ("es", "pt") and " " not in name:
        stem = re.sub(r"[aeo]$", "", name)
        return stem + "*" if len(stem) >= 4 else name
    return name


def _clean_territory(name: str) -> str:
    """ "Hong Kong SAR China" → "Hong Kong"; "Congo - Kinshasa" → "Congo"; "Гонконг (САР)" → "Гонконг"."""
    name = re.split(r" - |\(|,", name)[0]
    name = re.sub(r"\b(SAR China|RAE de|RAE da China)\b", "", name)
    return " ".join(name.split())


@cache
def _lexicon() -> tuple[dict[str, list[_Entry]], list[_Entry]]:
    """The vocabulary: entries by exact first word, and entries whose first word is a stem. Each
    phrase keeps its first meaning (in order: genres, moods, runtime, eras, negations,
    languages, countries, filler)."""
    entries: list[_Entry] = []
    seen: set[tuple[str, ...]] = set()

    def add(phrase: str, term: _Term) -> None:
        words = _norm(phrase)
        if words and len(words) <= MAX_PHRASE_WORDS and words not in seen:  # longer: remote islands
            seen.add(words)
            entries.append(_Entry(words, term))

    for genre in GENRES:
        add(genre, _Term(_Kind.GENRE, (genre,)))
    for phrase, pair in GENRE_PAIRS.items():
        add(phrase, _Term(_Kind.GENRE, pair))
    for genre, words in GENRE_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.GENRE, (genre,)))
    for mood, words in MOOD_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.MOOD, (mood.value,)))
    for kind, words in (
        (_Kind.SHORT, _SHORT_WORDS),
        (_Kind.LONG, _LONG_WORDS),
        (_Kind.NEW, _NEW_WORDS),
        (_Kind.OLD, _OLD_WORDS),
    ):
        for phrase in words:
            add(phrase, _Term(kind))
    for phrase in NEGATIONS:
        add(phrase, _Term(_Kind.NEGATION))
    stop = set(STOP_WORDS)
    for code in FILM_LANGUAGES:
        codes = LANGUAGE_CODES.get(code, (code,))
        for locale in WISH_LOCALES:
            name = Locale.parse(locale).languages.get(code)
            if name and _fold(name) not in stop:
                add(name, _Term(_Kind.LANGUAGE, codes))
                add(_stem_name(_fold(name), locale), _Term(_Kind.LANGUAGE, codes))
    for code, words in COUNTRY_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.COUNTRY, (code,)))
    for locale in WISH_LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if len(code) != 2 or not code.isalpha() or code in ("EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"):
                continue
            clean = _fold(_clean_territory(name))
            if not clean or clean in stop or clean in COUNTRY_NAME_CLASHES:
                continue
            add(clean, _Term(_Kind.COUNTRY, (code,)))
            if locale == "ru":
                add(" ".join(_stem_name(w, "ru") for w in clean.split()), _Term(_Kind.COUNTRY, (code,)))
    for word in STOP_WORDS:
        add(word, _Term(_Kind.STOP))
    exact: dict[str, list[_Entry]] = {}
    stems: list[_Entry] = []
    for entry in entries:
        if entry.words[0].endswith("*"):
            stems.append(entry)
        else:
            exact.setdefault(entry.words[0], []).append(entry)
    return exact, stems


def _term_at(tokens: Sequence[_Token], i: int) -> tuple[int, _Term] | None:
    """The longest vocabulary phrase starting at token i: (its length in tokens, its meaning).
    Among phrases of one length, exact words beat stems, then the first defined wins."""
    return _term_for(tuple(t.norm for t in tokens[i : i + MAX_PHRASE_WORDS]))


@lru_cache(maxsize=4096)
def _term_for(words: tuple[str, ...]) -> tuple[int, _Term] | None:
    """`_term_at` for the words from that token on (cached: parsing asks for a word often)."""
    exact, stems = _lexicon()
    best: tuple[int, int, _Term] | None = None  # (length, -stems, term)
    for entry in [*exact.get(words[0], ()), *stems]:
        n = len(entry.words)
        if n > len(words):
            continue
        if all(_word_matches(p, words[k]) for k, p in enumerate(entry.words)):
            key = (n, -entry.stems)
            if best is None or key > best[:2]:
                best = (n, -entry.stems, entry.term)
    return None if best is None else (best[0], best[2])


def _phrase_at(tokens: Sequence[_Token], i: int, phrases: Iterable[str]) -> int:
    """Length in tokens of the longest of `phrases` starting at token i (0: none)."""
    best = 0
    for phrase in phrases:
        words = _norm(phrase)
        n = len(words)
        if (
            n > best
            and i + n <= len(tokens)
            and all(_word_matches(p, tokens[i + k].norm) for k, p in enumerate(words))
        ):
            best = n
    return best


def _bound_at(tokens: Sequence[_Token], i: int, table: dict[str, _Bound]) -> tuple[int, _Bound] | None:
    best: tuple[int, _Bound] | None = None
    for phrase, bound in table.items():
        n = _phrase_at(tokens, i, (phrase,))
        if n and (best is None or n > best[0]):
            best = (n, bound)
    return best


# --- years and decades ----------------------------------------------------------------------------

_DECADE_TOKEN = re.compile(r"^(\d{2}|\d{4})(?:'?s|-?(?:е|х|ые|ых|ие|ых))$")


def _decade_start(digits: str, current_year: int) -> int | None:
    """ "1990" → 1990, "90" → 1990, "20" → 2020 in 2026 (a two-digit decade up to this one is this
    century's); None when it is no decade."""
    value = int(digits)
    if len(digits) == 4:
        return value if value % 10 == 0 else None
    if value % 10:
        return None
    return 2000 + value if value <= current_year % 100 else 1900 + value


def _period_at(tokens: Sequence[_Token], i: int, current_year: int) -> tuple[int, int, int] | None:
    """A year or a decade starting at token i: (tokens used, first year, last year)."""
    word = tokens[i].norm
    if re.fullmatch(r"\d{4}", word):
        year = int(word)
        if MIN_FILM_YEAR <= year <= current_year + MAX_FILM_YEAR_AHEAD:
            return 1, year, year
        return None
    if match := _DECADE_TOKEN.match(word):
        start = _decade_start(match[1], current_year)
        return None if start is None else (1, start, start + 9)
    if word in _DECADE_WORDS:
        start = _decade_start(f"{_DECADE_WORDS[word]}0", current_year)
        return None if start is None else (1, start, start + 9)
    if word in _DECADE_LEADS:  # "años 90", "de los noventa", "década de 1990"
        j = i
        while j < len(tokens) and tokens[j].norm in _DECADE_LEADS:
            j += 1
        leads = {t.norm for t in tokens[i:j]}
        if j >= len(tokens) or leads == {"de"}:
            return None
        value = tokens[j].norm
        digits: str | None = None
        if re.fullmatch(r"\d{2}", value) or (re.fullmatch(r"\d{4}", value) and leads & {"decada", "decadas"}):
            digits = value
        elif value in _DECADE_NUMBER_WORDS:
            digits = f"{_DECADE_NUMBER_WORDS[value]}0"
        if digits is not None and not (j + 1 < len(tokens) and tokens[j + 1].norm in _HOURS | _MINUTES):
            start = _decade_start(digits, current_year)
            if start is not None:
                return j - i + 1, start, start + 9
    return None


# --- runtimes -------------------------------------------------------------------------------------

_LENGTH_TOKEN = re.compile(r"^(\d+(?:[.,]\d+)?)(h|hr|hrs|hours?|ч|m|min|mins|minutes?|мин)?$")


def _length_at(tokens: Sequence[_Token], i: int) -> tuple[int, int] | None:
    """A length starting at token i ("2 hours", "90 min", "2h", "1.5 hours", "two hours and a
    half", "2 h 30 min"): (tokens used, minutes)."""
    word = tokens[i].norm
    match = _LENGTH_TOKEN.match(word)
    unit: str | None = None
    if match:
        number = float(match[1].replace(",", "."))
        unit = match[2]
    elif word in _NUMBER_WORDS:
        number = _NUMBER_WORDS[word]
    else:
        return None
    j = i + 1
    if unit is None:
        if j >= len(tokens) or tokens[j].norm not in _HOURS | _MINUTES:
            return None
        unit = tokens[j].norm
        j += 1
    hours = unit in _HOURS or unit in ("h", "hr", "hrs", "hour", "hours", "ч")
    if not match and not hours:
        return None  # "two minutes" is no film length
    minutes = number * 60 if hours else number
    if hours:
        if (n := _phrase_at(tokens, j, _HALF)) > 0:
            minutes += 30
            j += n
        else:
            k = j + (1 if j < len(tokens) and tokens[j].norm in ("and", "и", "y", "e") else 0)
            rest = _length_at(tokens, k) if k < len(tokens) else None
            if (
                rest is not None
                and not (k < len(tokens) and tokens[k].norm in _NUMBER_WORDS)
                and rest[1] < 60
            ):
                minutes += rest[1]
                j = k + rest[0]
    return j - i, round(minutes)


# --- the parser -----------------------------------------------------------------------------------


@dataclass
class _Found:
    """What the parser collected so far (mutable while parsing)."""

    genres: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)
    moods: list[Mood] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    periods: list[tuple[int, int]] = field(default_factory=list)  # closed year ranges (unioned)
    year_low: list[int] = field(default_factory=list)  # open bounds (intersected)
    year_high: list[int] = field(default_factory=list)
    runtime_low: list[int] = field(default_factory=list)
    runtime_high: list[int] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def bound_years(self, bound: _Bound | None, low: int, high: int) -> None:
        match bound:
            case None:
                self.periods.append((low, high))
            case _Bound.BEFORE:
                self.year_high.append(low - 1)
            case _Bound.UNTIL:
                self.year_high.append(high)
            case _Bound.AFTER:
                self.year_low.append(high + 1)
            case _Bound.SINCE:
                self.year_low.append(low)

    def bound_runtime(self, bound: _Bound | None, minutes: int) -> None:
        match bound:
            case _Bound.BEFORE:
                self.runtime_high.append(minutes - 1)
            case _Bound.UNTIL | None:
                self.runtime_high.append(minutes)
            case _Bound.AFTER:
                self.runtime_low.append(minutes + 1)
            case _Bound.SINCE:
                self.runtime_low.append(minutes)


def parse_wish(text: str, *, current_year: int) -> Wish:
    """Read a wish with the rules (see the module docstring). `current_year` dates "new" and
    two-digit decades. Never raises; a text with nothing understood gives a Wish whose
    `understood` is False and whose `unknown` holds its words."""
    text = text[:MAX_WISH_CHARS]
    tokens = _tokens(text)
    used = [False] * len(tokens)
    like = _reference(text, tokens, used)
    found = _Found()
    i = 0
    while i < len(tokens):
        if used[i]:
            i += 1
            continue
        n = _read_at(tokens, i, used, found, current_year)
        if n:
            for k in range(i, i + n):
                used[k] = True
            i += n
            continue
        word = tokens[i].norm
        if word[:1].isalnum():
            found.unknown.append(word)
        i += 1
    return _wish(found, like, current_year)


def _read_at(tokens: Sequence[_Token], i: int, used: list[bool], found: _Found, current_year: int) -> int:
    """Read one phrase at token i into `found`; the number of tokens it took (0: none)."""
    if n := _range_at(tokens, i, found, current_year):
        return n
    year_bound = _bound_at(tokens, i, _YEAR_BOUNDS)
    start = i + year_bound[0] if year_bound else i
    if year_bound and start < len(tokens):  # "before the 90s"
        start += _phrase_at(tokens, start, _ARTICLES)
    period = _period_at(tokens, start, current_year) if start < len(tokens) else None
    if period is None and year_bound and tokens[start - 1].norm in _DECADE_LEADS:  # "antes de los 90"
        start -= 1
        period = _period_at(tokens, start, current_year)
    if period is not None:
        found.bound_years(year_bound[1] if year_bound else None, period[1], period[2])
        return start - i + period[0]
    runtime_bound = _bound_at(tokens, i, _RUNTIME_BOUNDS)
    start = i + runtime_bound[0] if runtime_bound else i
    if start < len(tokens) and (length := _length_at(tokens, start)):
        j = start + length[0]
        bound = runtime_bound[1] if runtime_bound else None
        after = _bound_at(tokens, j, _RUNTIME_AFTER) if j < len(tokens) else None
        if after and bound is None:
            bound, j = after[1], j + after[0]
        found.bound_runtime(bound, length[1])
        return j - i
    matched = _term_at(tokens, i)
    if matched is None:
        return 0
    n, term = matched
    if term.kind is _Kind.NEGATION:
        return _negated(tokens, i + n, found, current_year) + n
    _apply(term, found, current_year)
    return n


def _negated(tokens: Sequence[_Token], i: int, found: _Found, current_year: int) -> int:
    """After "not"/"no"/"без"/"sin"…: the next genre is excluded, "long"/"short" and
    "new"/"old" are turned around ("not too long": under 130 min). Filler in between is
    skipped. Returns the tokens taken after the negation (0: it negates nothing we know)."""
    j = i
    while j < len(tokens) and (m := _term_at(tokens, j)) and m[1].kind is _Kind.STOP:
        j += m[0]
    matched = _term_at(tokens, j) if j < len(tokens) else None
    if matched is None:
        return 0
    n, term = matched
    match term.kind:
        case _Kind.GENRE:
            found.without.extend(term.values)
        case _Kind.LONG:
            found.runtime_high.append(LONG_MIN_MINUTES - 1)
        case _Kind.SHORT:
            found.runtime_low.append(SHORT_UNDER_MINUTES)
        case _Kind.NEW:
            found.year_high.append(current_year - NEW_YEARS)
        case _Kind.OLD:
            found.year_low.append(OLD_BEFORE)
        case _Kind.LANGUAGE | _Kind.COUNTRY if tokens[i - 1].norm == "no":  # Portuguese "no Japão": "in"
            _apply(term, found, current_year)
        case _:  # "not scary", "not korean": no rule for it (the model may know)
            found.unknown.append(" ".join(t.norm for t in tokens[i - 1 : j + n]))
    return j - i + n


def _range_at(tokens: Sequence[_Token], i: int, found: _Found, current_year: int) -> int:
    """ "2000-2010", "between 2000 and 2010", "from the 80s to the 90s", "с 2000 по 2010",
    "entre 2000 y 2010", "de 2000 a 2010": a closed range; the tokens taken (0: none)."""
    j = i + _phrase_at(tokens, i, _RANGE_OPEN)
    j += _phrase_at(tokens, j, _ARTICLES) if j < len(tokens) else 0
    first = _period_at(tokens, j, current_year) if j < len(tokens) else None
    if first is None:
        return 0
    k = j + first[0]
    join = _phrase_at(tokens, k, _RANGE_JOIN) if k < len(tokens) else 0
    if not join:
        return 0
    k += join
    k += _phrase_at(tokens, k, _ARTICLES) if k < len(tokens) else 0
    second = _period_at(tokens, k, current_year) if k < len(tokens) else None
    if second is None or second[2] < first[1]:
        return 0
    found.periods.append((first[1], second[2]))
    return k + second[0] - i


def _apply(term: _Term, found: _Found, current_year: int) -> None:
    match term.kind:
        case _Kind.GENRE:
            found.genres.extend(term.values)
        case _Kind.MOOD:
            found.moods.extend(Mood(v) for v in term.values)
        case _Kind.SHORT:
            found.runtime_high.append(SHORT_UNDER_MINUTES - 1)
        case _Kind.LONG:
            found.runtime_low.append(LONG_MIN_MINUTES)
        case _Kind.NEW:
            found.year_low.append(current_year - NEW_YEARS + 1)
        case _Kind.OLD:
            found.year_high.append(OLD_BEFORE - 1)
        case _Kind.LANGUAGE:
            found.languages.extend(term.values)
        case _Kind.COUNTRY:
            found.countries.extend(term.values)
        case _Kind.STOP | _Kind.NEGATION:
            pass


def _reference(text: str, tokens: Sequence[_Token], used: list[bool]) -> str | None:
    """Find "like <title>" (LIKE_MARKERS); mark its tokens used and return the title as typed.

    The title runs from the marker to the next TITLE_BREAKS word or punctuation; a break whose
    following words are all unknown to the rules belongs to the title ("like Pride and
    Prejudice"). No reference when "like" is a verb ("I'd like …") or the "title" is only
    words the rules know ("like a comedy")."""
    for i in range(len(tokens)):
        n = _phrase_at(tokens, i, LIKE_MARKERS)
        if not n or (tokens[i].norm == "like" and i > 0 and tokens[i - 1].norm in LIKE_VERB_BEFORE):
            continue
        start = i + n
        end = start
        while end < len(tokens):
            word = tokens[end].norm
            if not word[:1].isalnum():
                break
            if (
                word in TITLE_BREAKS
                and end > start
                and (word not in TITLE_JOINS or not _title_goes_on(tokens, end + 1))
            ):
                break
            end += 1
        if end == start or all(_term_at(tokens, k) is not None for k in range(start, end)):
            continue
        for k in range(i, end):
            used[k] = True
        title = text[tokens[start].start : tokens[end - 1].end].strip()
        return title[:MAX_TITLE_CHARS] or None
    return None


def _title_goes_on(tokens: Sequence[_Token], i: int) -> bool:
    """Whether the words from token i to the next break or punctuation are all unknown to the
    rules (filler aside): then the joining word before them is part of a title."""
    end = i
    while end < len(tokens) and tokens[end].norm[:1].isalnum() and tokens[end].norm not in TITLE_BREAKS:
        end += 1
    if end == i:
        return False
    for k in range(i, end):
        matched = _term_at(tokens, k)
        if matched is not None and matched[1].kind is not _Kind.STOP:
            return False
        if _period_at(tokens, k, 2100) or _length_at(tokens, k):
            return False
    return True


def _wish(found: _Found, like: str | None, current_year: int) -> Wish:
    low = [min(p[0] for p in found.periods)] if found.periods else []
    high = [max(p[1] for p in found.periods)] if found.periods else []
    low += found.year_low
    high += found.year_high
    without = tuple(dict.fromkeys(found.without))
    return Wish(
        genres=tuple(g for g in dict.fromkeys(found.genres) if g not in without),
        without_genres=without,
        moods=tuple(dict.fromkeys(found.moods)),
        min_year=max(low) if low else None,
        max_year=min(high) if high else None,
        min_runtime=max(found.runtime_low) if found.runtime_low else None,
        max_runtime=min(found.runtime_high) if found.runtime_high else None,
        languages=tuple(dict.fromkeys(found.languages)),
        countries=tuple(dict.fromkeys(found.countries)),
        like=like,
        unknown=tuple(found.unknown),
    )


# --- the language model's part --------------------------------------------------------------------


class WishAnswer(BaseModel):
    """A wish as the language model answers it (validated by `wish_from_model`)."""

    genres: list[str] = Field(description="TMDB genre names from the given list that the user wants")
    without_genres: list[str] = Field(
        description="TMDB genre names from the given list the user does not want"
    )
    min_year: int | None = Field(description="earliest release year, or null")
    max_year: int | None = Field(description="latest release year, or null")
    min_runtime: int | None = Field(description="shortest runtime in minutes, or null")
    max_runtime: int | None = Field(description="longest runtime in minutes, or null")
    languages: list[str] = Field(description="ISO 639-1 codes of the original languages wanted")
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes of the production countries wanted")
    like_title: str | None = Field(
        description="the title of a film the user wants something similar to, or null"
    )


WISH_SYSTEM_PROMPT = """\
You read what a user of a film-recommendation bot typed after /recommend and turn it into \
search filters. The text may be in any language. Fill only what the text asks for and leave \
everything else empty (empty lists, null): never guess.

- genres: only names from this list, spelled exactly: {genres}. A mood maps to genres \
(funny: Comedy; scary: Horror; feel-good: Comedy or Family; …).
- without_genres: genres from the same list the user says they do not want.
- min_year / max_year: release years (a decade such as "the 90s" is 1990 to 1999). The \
current year is {year}.
- min_runtime / max_runtime: minutes.
- languages: ISO 639-1 codes of the film's original language ("Korean film": "ko").
- countries: ISO 3166-1 alpha-2 codes of the production country ("British": "GB").
- like_title: the title of a film the user names as a reference ("something like Alien": \
"Alien"), else null."""


def wish_prompt(text: str, current_year: int) -> tuple[str, str]:
    """(system, user) messages asking a model for `text`'s filters in WishAnswer's schema."""
    return WISH_SYSTEM_PROMPT.format(genres=", ".join(GENRES), year=current_year), f"The user typed: {text}"


@cache
def _language_codes() -> frozenset[str]:
    return frozenset(c for c in Locale.parse("en").languages if isinstance(c, str) and len(c) == 2) | {"cn"}


@cache
def _country_codes() -> frozenset[str]:
    codes = Locale.parse("en").territories
    return frozenset(c for c in codes if isinstance(c, str) and len(c) == 2 and c.isalpha()) | {"SU"}


def wish_from_model(answer: WishAnswer, *, current_year: int) -> tuple[Wish, list[str]]:
    """The model's answer as a Wish, with what was dropped: genres not in GENRES, years outside
    [MIN_FILM_YEAR, current_year + MAX_FILM_YEAR_AHEAD], runtimes outside [MIN_RUNTIME,
    MAX_RUNTIME], crossed bounds (min > max: both), unknown ISO codes, blank or overlong
    titles. Returns (wish, names of the dropped fields, with repeats)."""
    dropped: list[str] = []
    by_name = {g.casefold(): g for g in GENRES}

    def genres(values: list[str], name: str) -> tuple[str, ...]:
        kept = [by_name[v.strip().casefold()] for v in values if v.strip().casefold() in by_name]
        dropped.extend([name] * (len(values) - len(kept)))
        return tuple(dict.fromkeys(kept))

    def bounded(value: int | None, low: int, high: int, name: str) -> int | None:
        if value is None:
            return None
        if low <= value <= high:
            return value
        dropped.append(name)
        return None

    def codes(values: list[str], known: frozenset[str], upper: bool, name: str) -> tuple[str, ...]:
        cleaned = [v.strip().upper() if upper else v.strip().lower() for v in values]
        kept = [c for c in cleaned if c in known]
        dropped.extend([name] * (len(cleaned) - len(kept)))
        if not upper:
            kept = [x for c in kept for x in LANGUAGE_CODES.get(c, (c,))]
        return tuple(dict.fromkeys(kept))

    last_year = current_year + MAX_FILM_YEAR_AHEAD
    min_year = bounded(answer.min_year, MIN_FILM_YEAR, last_year, "min_year")
    max_year = bounded(answer.max_year, MIN_FILM_YEAR, last_year, "max_year")
    if min_year is not None and max_year is not None and min_year > max_year:
        min_year = max_year = None
        dropped += ["min_year", "max_year"]
    min_runtime = bounded(answer.min_runtime, MIN_RUNTIME, MAX_RUNTIME, "min_runtime")
    max_runtime = bounded(answer.max_runtime, MIN_RUNTIME, MAX_RUNTIME, "max_runtime")
    if min_runtime is not None and max_runtime is not None and min_runtime > max_runtime:
        min_runtime = max_runtime = None
        dropped += ["min_runtime", "max_runtime"]
    title = " ".join((answer.like_title or "").split())
    if len(title) > MAX_TITLE_CHARS:
        dropped.append("like_title")
        title = ""
    without = genres(answer.without_genres, "without_genres")
    wish = Wish(
        genres=tuple(g for g in genres(answer.genres, "genres") if g not in without),
        without_genres=without,
        min_year=min_year,
        max_year=max_year,
        min_runtime=min_runtime,
        max_runtime=max_runtime,
        languages=codes(answer.languages, _language_codes(), False, "languages"),
        countries=codes(answer.countries, _country_codes(), True, "countries"),
        like=title or None,
    )
    return wish, dropped


def merged(rules: Wish, model: Wish) -> Wish:
    """The rules' wish with what only the model found: each field is the rules' when they set
    it, else the model's. `unknown` stays the rules' (the words the model was asked about)."""
    return Wish(
        genres=rules.genres or tuple(g for g in model.genres if g not in rules.without_genres),
        without_genres=rules.without_genres or model.without_genres,
        moods=rules.moods,
        min_year=rules.min_year
        if rules.min_year is not None or rules.max_year is not None
        else model.min_year,
        max_year=rules.max_year
        if rules.min_year is not None or rules.max_year is not None
        else model.max_year,
        min_runtime=rules.min_runtime
        if rules.min_runtime is not None or rules.max_runtime is not None
        else model.min_runtime,
        max_runtime=rules.max_runtime
        if rules.min_runtime is not None or rules.max_runtime is not None
        else model.max_runtime,
        languages=rules.languages or model.languages,
        countries=rules.countries or model.countries,
        like=rules.like or model.like,
        unknown=rules.unknown,
    )


# --- the filter -----------------------------------------------------------------------------------


def preferences_for(wish: Wish, *, like: int | None = None, near: Sequence[int] = ()) -> Preferences:
    """The recommender's one-off filter for a wish, kept even when few films pass (`strict`:
    the bot then says that nothing, or only a few films, match).

    Named genres are all required; moods admit any of their genres (and, with no genre named,
    are the preferred genres). `like`: the reference film's tmdb id (never picked itself);
    `near`: films near it, preferred (see Preferences)."""
    return Preferences(
        genres=wish.mood_genres or wish.genres,
        required_genres=wish.genres,
        without_genres=wish.without_genres,
        min_year=wish.min_year,
        max_year=wish.max_year,
        min_runtime=wish.min_runtime,
        max_runtime=wish.max_runtime,
        languages=wish.languages,
        countries=wish.countries,
        like=like,
        near=tuple(near),
        strict=True,
    )
