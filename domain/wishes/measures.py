"""The words for years and runtimes: comparisons ("before", "under", "до", "menos de"),
ranges, units and number words, decades, and "new"/"old"/"short"/"long".
"""

from __future__ import annotations

from enum import StrEnum

from domain.wishes.vocabulary import _phrases

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
