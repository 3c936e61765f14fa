"""The words the rules know: TMDB's genres and the words naming them, the moods and their
genres, languages and countries, filler, negations, and what marks and ends a reference title.
The words for years and runtimes are in `domain.wishes.measures`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from domain.clarify import SHORT_MAX_MINUTES

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
