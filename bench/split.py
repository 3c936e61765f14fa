"""The bench's data split (the protocol of bench/recommend_quality.py): MovieLens
ml-latest-small ratings mapped to the TMDB 5000 catalog through links.csv, each user's last 20 %
of ratings (temporal) or a seeded random 20 % held out as the test part, and a validation part
carved from each train part by the same rule (`validation`), on which every constant is chosen.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.baselines import History

SEED = 13
VALIDATION_SEED = SEED + 1_000_000  # the validation draw of user u uses VALIDATION_SEED + u


@dataclass
class Split:
    catalog: list[int]  # tmdb ids, sorted
    train: dict[int, list[tuple[int, float, int]]]  # ML user → [(tmdb id, rating, timestamp)], by time
    relevant: dict[int, set[int]]  # ML user → relevant test films (users with none are left out)
    kind: str = "temporal"  # or "random"


def hold_out(history: History, n: int, kind: str, seed: int) -> tuple[History, History]:
    """(rest, held out) of a time-ordered history: its last n, or n drawn with `seed`; both
    parts stay in time order."""
    if kind == "temporal":
        return history[: len(history) - n], history[len(history) - n :]
    held = set(random.Random(seed).sample(range(len(history)), n))
    return [h for i, h in enumerate(history) if i not in held], [
        h for i, h in enumerate(history) if i in held
    ]


def validation(split: Split) -> tuple[dict[int, History], dict[int, set[int]]]:
    """Each user's train part minus its validation part, and the validation films rated ≥ 4,
    carved by the rule that carved the test part (users with one train rating keep it)."""
    fit: dict[int, History] = {}
    held: dict[int, set[int]] = {}
    for user, history in split.train.items():
        n_val = max(1, round(0.2 * len(history))) if len(history) > 1 else 0
        fit[user], val = hold_out(history, n_val, split.kind, VALIDATION_SEED + user)
        held[user] = {t for t, r, _ in val if r >= 4.0}
    return fit, held


def load_split(datasets: Path, kind: str = "temporal") -> Split:
    catalog = sorted(int(row["id"]) for row in _rows(datasets / "tmdb_5000" / "tmdb_5000_movies.csv"))
    in_catalog = set(catalog)
    links = {
        int(row["movieId"]): int(row["tmdbId"])
        for row in _rows(datasets / "movielens" / "ml-latest-small" / "links.csv")
        if row["tmdbId"]
    }
    by_user: dict[int, dict[int, tuple[int, float, int]]] = defaultdict(dict)
    ratings = sorted(
        (int(r["userId"]), int(r["timestamp"]), int(r["movieId"]), float(r["rating"]))
        for r in _rows(datasets / "movielens" / "ml-latest-small" / "ratings.csv")
    )
    for user, ts, movie, rating in ratings:
        tmdb_id = links.get(movie)
        if tmdb_id in in_catalog:
            assert tmdb_id is not None
            by_user[user].pop(tmdb_id, None)  # two movieIds → one film: keep the later rating
            by_user[user][tmdb_id] = (tmdb_id, rating, ts)
    train: dict[int, list[tuple[int, float, int]]] = {}
    relevant: dict[int, set[int]] = {}
    for user, films in sorted(by_user.items()):
        history = list(films.values())  # insertion order = time order
        n_test = max(1, round(0.2 * len(history)))
        train[user], test = hold_out(history, n_test, kind, SEED + user)
        liked = {t for t, r, _ in test if r >= 4.0}
        if liked:
            relevant[user] = liked
    return Split(catalog, train, relevant, kind)


def _rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(10**8)
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
