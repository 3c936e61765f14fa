"""Reader for TMDB-format CSV files (the Kaggle "TMDB 5000" `tmdb_5000_movies.csv` layout).

Columns used: id, title, original_title, release_date (YYYY-MM-DD or empty), genres and
keywords (JSON lists of {"id", "name"}), production_countries (JSON list of
{"iso_3166_1", "name"}), overview, runtime (minutes, may be empty), original_language,
popularity, vote_average (0–10), vote_count. Other columns are ignored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from domain.entities import FilmInfo

REQUIRED_COLUMNS = frozenset({"id", "title", "genres", "release_date"})


class TMDBCsvError(ValueError):
    """The file is not in the TMDB CSV layout (the message names what is missing)."""


def _names(raw: str, key: str = "name") -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        return tuple(str(item[key]) for item in json.loads(raw) if item.get(key))
    except (json.JSONDecodeError, TypeError, AttributeError):
        return ()


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return 0.0


def row_to_film(row: dict[str, str]) -> FilmInfo:
    """One CSV row → FilmInfo (`has_details=True`: the CSV carries runtime and keywords).

    Raises:
        ValueError: the id is not an integer.
    """
    release = (row.get("release_date") or "").strip() or None
    runtime = _float(row.get("runtime") or "")
    return FilmInfo(
        tmdb_id=int(row["id"]),
        title=row["title"].strip(),
        year=int(release[:4]) if release and release[:4].isdigit() else None,
        original_title=(row.get("original_title") or "").strip() or None,
        release_date=release,
        genres=_names(row.get("genres", "")),
        keywords=_names(row.get("keywords", "")),
        overview=(row.get("overview") or "").strip() or None,
        runtime=int(runtime) if runtime > 0 else None,
        original_language=(row.get("original_language") or "").strip() or None,
        countries=_names(row.get("production_countries", ""), "iso_3166_1"),
        popularity=_float(row.get("popularity") or ""),
        vote_average=_float(row.get("vote_average") or ""),
        vote_count=int(_float(row.get("vote_count") or "")),
        has_details=True,
    )


def read_tmdb_csv(path: Path) -> Iterator[FilmInfo]:
    """Yield the films of a TMDB-format CSV; rows without an integer id or a title are skipped.

    Raises:
        TMDBCsvError: a required column is missing.
        OSError: the file cannot be read.
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
        if missing:
            columns = ", ".join(sorted(missing))
            raise TMDBCsvError(f"{path.name} is not a TMDB CSV: missing column(s) {columns}")
        for row in reader:
            if (row.get("id") or "").strip().isdigit() and (row.get("title") or "").strip():
                yield row_to_film(row)
