"""Tests for the Letterboxd export parser (`domain.letterboxd`), on small fixtures written for the project.

The demo export tests/fixtures/letterboxd/demo.zip belongs to a fictional user; its review texts
were written for these tests. The zip is the only committed form (the unpacked folder comes from
the `letterboxd_demo_dir` fixture); to change it, unzip, edit the CSVs and rebuild with

    .venv/bin/python -m tests.domain.test_letterboxd UNZIPPED/letterboxd-demo-2026-11-21-utc

(`test_demo_zip_rebuilds_byte_identically` checks the build is deterministic).
"""

from __future__ import annotations

import csv
import io
import re
import struct
import warnings
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import domain.letterboxd as lb
import domain.letterboxd_rows as letterboxd_rows
from domain.letterboxd import (
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    html_to_text,
    read_export,
    read_export_bytes,
    unmatched_csv_bytes,
)
from tests.conftest import LETTERBOXD_DEMO_ZIP as DEMO_ZIP

DEMO_TOP = "letterboxd-demo-2026-11-21-utc"
_ZIP_TIME = (2026, 11, 21, 0, 0, 0)

HEADERS = {
    "ratings.csv": "Date,Name,Year,Letterboxd URI,Rating",
    "watched.csv": "Date,Name,Year,Letterboxd URI",
    "diary.csv": "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date",
    "reviews.csv": "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Review,Tags,Watched Date",
    "watchlist.csv": "Date,Name,Year,Letterboxd URI",
    "likes/films.csv": "Date,Name,Year,Letterboxd URI",
}


def build_demo_zip(source: Path, target: Path = DEMO_ZIP) -> Path:
    """Zip `source` under DEMO_TOP/ deterministically (sorted names, fixed timestamps and modes).

    To change the demo export: unzip demo.zip, edit the CSVs, then run
    `.venv/bin/python -m tests.domain.test_letterboxd UNZIPPED_FOLDER/letterboxd-demo-2026-11-21-utc`.
    """
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{DEMO_TOP}/{file.relative_to(source).as_posix()}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes(), compresslevel=9)
    return target


def write_export(root: Path, files: dict[str, str], *, bom: bool = False) -> Path:
    """Write an export folder: {relative name: CSV text}. Returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return root


def csv_text(name: str, *rows: str) -> str:
    """A recognised file with its real header and the given raw CSV rows."""
    return "\n".join([HEADERS[name], *rows]) + "\n"


def by_key(export: LetterboxdExport) -> dict[tuple[str, int | None], LetterboxdFilm]:
    return {film.key: film for film in export.films}


@pytest.fixture(scope="module")
def demo(letterboxd_demo_dir: Path) -> LetterboxdExport:
    return read_export(letterboxd_demo_dir)


@pytest.fixture(scope="module")
def films(demo: LetterboxdExport) -> dict[tuple[str, int | None], LetterboxdFilm]:
    return by_key(demo)


# --- the demo export ---------------------------------------------------------------------------


def test_demo_zip_rebuilds_byte_identically(letterboxd_demo_dir: Path, tmp_path: Path) -> None:
    rebuilt = build_demo_zip(letterboxd_demo_dir, tmp_path / "demo.zip")
    assert rebuilt.read_bytes() == DEMO_ZIP.read_bytes()


def test_folder_and_zip_give_identical_results(demo: LetterboxdExport) -> None:
    assert read_export(DEMO_ZIP) == demo


def test_demo_summary(demo: LetterboxdExport) -> None:
    assert demo.files_read == (
        "ratings.csv",
        "watched.csv",
        "diary.csv",
        "reviews.csv",
        "likes/films.csv",
        "watchlist.csv",
    )
    assert dict(demo.rows_read) == {
        "ratings.csv": 12,
        "watched.csv": 15,
        "diary.csv": 6,
        "reviews.csv": 5,
        "likes/films.csv": 5,
        "watchlist.csv": 3,
    }
    assert demo.skipped_rows == 1
    assert tuple(map(str, demo.problems)) == ("ratings.csv row 5: rating '7' is not 0.5–5 in half steps",)
    # 15 watched films + The Shining and Untitled Heist Project from the watchlist.
    assert len(demo.films) == 17
    assert demo.films[0].name == "Alien"  # first-seen order: ratings.csv first
    assert demo.films[-1].name == "Untitled Heist Project"
    assert len({film.key for film in demo.films}) == len(demo.films)


def test_ratings_csv_wins_and_latest_date_wins_within_it(
    films: dict[tuple[str, int | None], LetterboxdFilm],
) -> None:
    # Alien is rated twice in ratings.csv: the later Date (5) wins.
    assert films["alien", 1979].rating == Decimal("5")
    # Heat's second row comes later in the file but has an older Date: 3.5 stays.
    assert films["heat", 1995].rating == Decimal("3.5")
    # The Matrix: ratings.csv 4.5 beats the diary's 4.
    assert films["the matrix", 1999].rating == Decimal("4.5")


def test_rating_falls_back_to_diary_then_reviews(films: dict[tuple[str, int | None], LetterboxdFilm]) -> None:
    # No ratings.csv row: the latest rated diary row (the rewatch, 4.5) wins over the first (4).
    assert films["spirited away", 2001].rating == Decimal("4.5")
    # Arrival: diary 4 beats a later review rated 3.5.
    assert films["arrival", 2016].rating == Decimal("4")
    # Amélie is rated only in reviews.csv.
    assert films["amélie", 2001].rating == Decimal("4")
    # Blade Runner's only rating ("7") was skipped, yet it is still watched (watched.csv).
    blade_runner = films["blade runner", 1982]
    assert blade_runner.rating is None
    assert blade_runner.watched


def test_watched_on_is_latest_watched_date_across_diary_and_reviews(
    films: dict[tuple[str, int | None], LetterboxdFilm],
) -> None:
    assert films["spirited away", 2001].watched_on == date(2025, 10, 1)
    assert films["whiplash", 2014].watched_on == date(2025, 8, 9)  # reviews.csv is later than diary
    assert films["arrival", 2016].watched_on == date(2025, 7, 7)  # the review has no Watched Date
    assert films["heat", 1995].watched_on == date(2025, 10, 31)  # unrated diary entry
    assert films["alien", 1979].watched_on is None  # only in ratings/watched


def test_latest_review_wins_and_is_plain_text(films: dict[tuple[str, int | None], LetterboxdFilm]) -> None:
    spirited = films["spirited away", 2001]
    assert spirited.review == (
        "Second viewing, and the bathhouse still feels like a whole city.\n"
        "This time I watched the background characters.\n\n"
        "They all have somewhere to be."
    )
    assert spirited.reviewed_on == date(2025, 10, 2)
    assert films["whiplash", 2014].review == "Drums & blood.\nNot a film about music, a film about wanting."
    amelie = films["amélie", 2001]
    assert amelie.name == "Amélie"
    assert amelie.review == (
        "Una película pequeña que se siente enorme.\n\n"
        "Los pequeños placeres también cuentan.\n\n"
        "Salí del cine con ganas de mirar a la gente con más cariño."
    )
    assert films["arrival", 2016].reviewed_on == date(2025, 8, 1)
    assert films["alien", 1979].review is None
    assert films["alien", 1979].reviewed_on is None


def test_liked_and_watchlist(films: dict[tuple[str, int | None], LetterboxdFilm]) -> None:
    assert {key for key, film in films.items() if film.liked} == {
        ("alien", 1979),
        ("interstellar", 2014),
        ("parasite", 2019),
        ("spirited away", 2001),
        ("paddington 2", 2017),
    }
    shining = films["the shining", 1980]
    assert shining.on_watchlist and not shining.watched and shining.rating is None
    dune = films["dune", 2021]
    assert dune.on_watchlist and dune.watched  # both: real exports have such overlaps


def test_film_with_empty_year(films: dict[tuple[str, int | None], LetterboxdFilm]) -> None:
    heist = films["untitled heist project", None]
    assert heist.year is None
    assert heist.key == ("untitled heist project", None)
    assert heist.on_watchlist and not heist.watched


def test_film_not_in_any_catalog_is_kept(films: dict[tuple[str, int | None], LetterboxdFilm]) -> None:
    film = films["film that does not exist", 2031]
    assert film == LetterboxdFilm(
        name="Film That Does Not Exist",
        year=2031,
        rating=Decimal("2.5"),
        watched=True,
        rated_on=date(2025, 6, 20),  # the ratings.csv row's Date
    )


# --- merge details on hand-made exports ---------------------------------------------------------


def test_key_normalises_case_whitespace_and_unicode(tmp_path: Path) -> None:
    decomposed = "Ame\u0301lie"  # "Amélie" with a combining accent
    export = read_export(
        write_export(
            tmp_path,
            {
                "watched.csv": csv_text(
                    "watched.csv",
                    "2025-01-01,The  Matrix ,1999,https://boxd.it/a",
                    f"2025-01-02,{decomposed},2001,https://boxd.it/b",
                ),
                "likes/films.csv": csv_text(
                    "likes/films.csv",
                    "2025-01-03,the matrix,1999,https://boxd.it/a",
                    "2025-01-04,Amélie,2001,x",
                ),
            },
        )
    )
    assert [(f.name, f.year, f.watched, f.liked) for f in export.films] == [
        ("The Matrix", 1999, True, True),
        ("Amélie", 2001, True, True),
    ]
    assert LetterboxdFilm(name="  THE\tmatrix ", year=1999).key == ("the matrix", 1999)


def test_same_title_different_year_are_different_films(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "ratings.csv": csv_text(
                    "ratings.csv",
                    "2025-01-01,Dune,1984,u1,2",
                    "2025-01-02,Dune,2021,u2,4",
                    "2025-01-03,Dune,,u3,3",
                )
            },
        )
    )
    assert [(f.year, f.rating) for f in export.films] == [
        (1984, Decimal(2)),
        (2021, Decimal(4)),
        (None, Decimal(3)),
    ]


def test_review_rewatch_keeps_latest_non_empty_review(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "reviews.csv": csv_text(
                    "reviews.csv",
                    '2025-01-01,Heat,1995,u1,4,,"First, <b>bold</b>.",,2024-12-31',
                    '2025-03-01,Heat,1995,u2,5,Yes,"Second.",,2025-02-28',
                    # Latest by Watched Date, but empty once the markup is gone: ignored.
                    '2025-04-01,Heat,1995,u3,,Yes,"<p> </p><br />",,2025-03-31',
                    # Logged later, but watched earlier than the second review.
                    '2025-05-01,Heat,1995,u4,,Yes,"Old diary entry logged late.",,2025-01-15',
                )
            },
        )
    )
    (heat,) = export.films
    assert heat.review == "Second."
    assert heat.reviewed_on == date(2025, 3, 1)
    assert heat.watched_on == date(2025, 3, 31)
    assert heat.rating == Decimal("5")  # latest *rated* review row
    assert heat.watched


def test_ratings_csv_repeated_same_date_last_row_wins(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "ratings.csv": csv_text(
                    "ratings.csv", "2025-01-01,Heat,1995,u,3", "2025-01-01,Heat,1995,u,4.0"
                )
            },
        )
    )
    assert export.films[0].rating == Decimal("4")
    assert str(export.films[0].rating) == "4"  # normalised: "4.0" → 4, "4.50" → 4.5


def test_watchlist_alone_is_not_watched_and_liked_alone_is_not_watched(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "watchlist.csv": csv_text("watchlist.csv", "2025-01-01,Heat,1995,u"),
                "likes/films.csv": csv_text("likes/films.csv", "2025-01-01,Alien,1979,u"),
            },
        )
    )
    assert [(f.name, f.watched, f.on_watchlist, f.liked) for f in export.films] == [
        ("Alien", False, False, True),
        ("Heat", False, True, False),
    ]


# --- bad rows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("2025-01-01,Heat,1995,u,7", "rating '7' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,6", "rating '6' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,abc", "rating 'abc' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,0", "rating '0' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,4.25", "rating '4.25' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,NaN", "rating 'NaN' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,-1", "rating '-1' is not 0.5–5 in half steps"),
        ("2025-01-01,Heat,1995,u,", "no rating"),
        ("2025-01-01,,1995,u,4", "empty Name"),
        ("2025-01-01,  ,1995,u,4", "empty Name"),
        ("2025-01-01,Heat,19x5,u,4", "Year '19x5' is not a year"),
        ("2025-01-01,Heat,95,u,4", "Year '95' is not a year"),
        ("2025-13-01,Heat,1995,u,4", "date '2025-13-01' is not a date"),
        ("21/13/2025,Heat,1995,u,4", "date '21/13/2025' is not a date"),
        ("yesterday,Heat,1995,u,4", "date 'yesterday' is not a date"),
        ("2025-01-01,Heat,1995,u,4½", "rating '4½' is not 0.5–5 in half steps"),
    ],
)
def test_bad_row_is_skipped_and_counted(tmp_path: Path, row: str, problem: str) -> None:
    export = read_export(
        write_export(tmp_path, {"ratings.csv": csv_text("ratings.csv", "2025-01-01,Alien,1979,u,4", row)})
    )
    assert [f.name for f in export.films] == ["Alien"]
    assert export.rows_read == {"ratings.csv": 2}
    assert export.skipped_rows == 1
    assert tuple(map(str, export.problems)) == (f"ratings.csv row 2: {problem}",)


def test_bad_rows_in_other_files_and_problem_notes_are_capped(tmp_path: Path) -> None:
    bad_dates = [f"2025-01-01,Film {i},2000,u,4,,,not-a-date" for i in range(30)]
    export = read_export(
        write_export(
            tmp_path,
            {
                "diary.csv": csv_text("diary.csv", *bad_dates, "2025-01-01,Heat,1995,u,4,,,2025-01-01"),
                "watchlist.csv": csv_text("watchlist.csv", ",,,", "2025-01-01,Alien,1979,u"),
            },
        )
    )
    assert [f.name for f in export.films] == ["Heat", "Alien"]
    assert export.skipped_rows == 31
    assert len(export.problems) == 31
    assert str(export.problems[0]) == "diary.csv row 1: date 'not-a-date' is not a date"
    assert str(export.problems[-1]) == "watchlist.csv row 1: empty Name"


def test_problem_notes_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(letterboxd_rows, "MAX_PROBLEMS", 5)
    bad = [f"2025-01-01,Film {i},2000,u,9" for i in range(12)]
    export = read_export(write_export(tmp_path, {"ratings.csv": csv_text("ratings.csv", *bad)}))
    assert export.skipped_rows == 12
    assert [p.row for p in export.problems] == [1, 2, 3, 4, 5]
    assert {p.code for p in export.problems} == {"bad_rating"}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("6/30/2022", date(2022, 6, 30)),  # US Excel re-save: month first
        ("30/06/2022", date(2022, 6, 30)),  # day first when the first number can't be a month
        ("30.06.2022", date(2022, 6, 30)),
        ("3.4.2022", date(2022, 4, 3)),  # dots: European, day first
        ("2022/06/30", date(2022, 6, 30)),
        ("2022-06-30", date(2022, 6, 30)),
    ],
)
def test_spreadsheet_dates_are_read(tmp_path: Path, cell: str, expected: date) -> None:
    export = read_export(
        write_export(tmp_path, {"diary.csv": csv_text("diary.csv", f"2025-01-01,Heat,1995,u,4,,,{cell}")})
    )
    assert export.skipped_rows == 0
    assert export.films[0].watched_on == expected
    assert export.films[0].watches == ((expected, Decimal("4")),)


def test_short_and_long_rows_do_not_crash(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "watched.csv": csv_text(
                    "watched.csv", "2025-01-01,Heat", "2025-01-02,Alien,1979,u,extra,fields"
                )
            },
        )
    )
    assert [(f.name, f.year) for f in export.films] == [("Heat", None), ("Alien", 1979)]
    assert export.skipped_rows == 0


def test_empty_dates_are_allowed(tmp_path: Path) -> None:
    export = read_export(
        write_export(tmp_path, {"reviews.csv": csv_text("reviews.csv", ",Heat,1995,,,,Fine.,,")})
    )
    assert export.films == (LetterboxdFilm(name="Heat", year=1995, watched=True, review="Fine."),)


# --- encodings and layouts ----------------------------------------------------------------------


def test_bom_is_ignored(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {"reviews.csv": csv_text("reviews.csv", "2025-02-01,Heat,1995,u,4,,Tense.,,2025-01-31")},
            bom=True,
        )
    )
    (heat,) = export.films
    # Without utf-8-sig the first column would be "\ufeffDate" and the review would have no date.
    assert heat.reviewed_on == date(2025, 2, 1)
    assert heat.rating == Decimal("4")


def test_bom_before_name_column(tmp_path: Path) -> None:
    (tmp_path / "watched.csv").write_bytes(b"\xef\xbb\xbfName,Year\nHeat,1995\n")
    assert read_export(tmp_path).films == (LetterboxdFilm(name="Heat", year=1995, watched=True),)


def test_demo_fixture_has_a_bom_and_a_multiline_field(letterboxd_demo_dir: Path) -> None:
    raw = (letterboxd_demo_dir / "reviews.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (letterboxd_demo_dir / "reviews.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 < raw.count(b"\n")


def test_zip_with_files_at_root_and_mac_junk(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__MACOSX/._ratings.csv", b"\x00\x05junk")
        archive.writestr("ratings.csv", csv_text("ratings.csv", "2025-01-01,Heat,1995,u,4"))
        archive.writestr("profile.csv", "Date Joined,Username\n2020-01-01,someone\n")
        archive.writestr("lists/favourites.csv", "whatever\n")
    export = read_export(path)
    assert export.files_read == ("ratings.csv",)
    assert [f.name for f in export.films] == ["Heat"]


def test_folder_holding_the_unpacked_top_folder(tmp_path: Path) -> None:
    write_export(
        tmp_path / "letterboxd-x-2026-01-01-utc", {"watched.csv": csv_text("watched.csv", ",Heat,1995,u")}
    )
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    assert [f.name for f in read_export(tmp_path).films] == ["Heat"]


def test_empty_recognised_file_is_read_as_no_rows(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_bytes(b"")
    write_export(tmp_path, {"watched.csv": csv_text("watched.csv", ",Heat,1995,u")})
    export = read_export(tmp_path)
    assert export.rows_read == {"ratings.csv": 0, "watched.csv": 1}
    assert len(export.films) == 1


# --- LetterboxdFormatError ----------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(LetterboxdFormatError, match=re.escape("couldn't find “nope.zip”")):
        read_export(tmp_path / "nope.zip")


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_text("Date,Name,Year\n")
    with pytest.raises(LetterboxdFormatError, match="isn't a zip file") as caught:
        read_export(path)
    assert str(tmp_path) not in str(caught.value)  # no server paths in user-facing text


def test_truncated_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(DEMO_ZIP.read_bytes()[:500])
    with pytest.raises(LetterboxdFormatError, match="isn't a zip file"):
        read_export(path)


def test_zip_with_corrupt_data(tmp_path: Path) -> None:
    data = bytearray(DEMO_ZIP.read_bytes())
    header = data.index(b"PK\x03\x04")
    name_len, extra_len = struct.unpack_from("<HH", data, header + 26)
    start = header + 30 + name_len + extra_len
    for i in range(start, start + 40):  # scramble the first member's deflate stream
        data[i] ^= 0x5A
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(LetterboxdFormatError, match="is damaged"):
        read_export(path)


def test_zip_whose_member_is_larger_than_it_claims(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("watched.csv", csv_text("watched.csv", *[f",Film {i},2000,u" for i in range(500)]))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # claim 100 bytes uncompressed
    path.write_bytes(bytes(data))
    # zipfile stops at the claimed size, then the CRC check fails: reported as damaged.
    with pytest.raises(LetterboxdFormatError, match="is damaged"):
        read_export(path)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(
        LetterboxdFormatError, match=re.escape("doesn't look like a Letterboxd export: no ratings.csv")
    ):
        read_export(tmp_path)


def test_zip_without_recognised_files(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("top/profile.csv", "Date Joined,Username\n")
        archive.writestr("top/films.csv", "Name\n")
    with pytest.raises(LetterboxdFormatError, match="doesn't look like a Letterboxd export"):
        read_export(path)


def test_two_exports_in_one_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/ratings.csv", csv_text("ratings.csv"))
        archive.writestr("b/ratings.csv", csv_text("ratings.csv"))
    with pytest.raises(LetterboxdFormatError, match="more than one Letterboxd export"):
        read_export(path)


@pytest.mark.parametrize(
    ("name", "header", "missing"),
    [
        ("watched.csv", "Date,Title,Year,Letterboxd URI", "Name"),
        ("likes/films.csv", "Date,Year", "Name"),
        ("ratings.csv", "Date,Name,Year,Letterboxd URI", "Rating"),
        ("reviews.csv", "Date,Name,Year,Letterboxd URI,Rating", "Review"),
    ],
)
def test_recognised_file_without_required_column(
    tmp_path: Path, name: str, header: str, missing: str
) -> None:
    write_export(tmp_path, {name: header + "\n2025-01-01,Heat,1995,u\n"})
    with pytest.raises(
        LetterboxdFormatError,
        match=re.escape(f"{name} doesn't look like a Letterboxd file: it has no {missing}"),
    ):
        read_export(tmp_path)


def test_not_utf8_is_read_in_its_encoding_and_noted(tmp_path: Path) -> None:
    """A CSV re-saved by a spreadsheet as Windows-1252 keeps its accents."""
    text = "Date,Name,Year\n2025-01-01,Amélie,2001\n2025-01-02,Léon: The Professional,1994\n"
    (tmp_path / "watched.csv").write_bytes(text.encode("cp1252"))
    export = read_export(tmp_path)
    assert [f.name for f in export.films] == ["Amélie", "Léon: The Professional"]
    assert [(p.file, p.code) for p in export.problems] == [("watched.csv", "encoding")]
    assert export.skipped_rows == 0


def test_unsupported_compression(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("ratings.csv", csv_text("ratings.csv"))
    with pytest.raises(LetterboxdFormatError, match="compression I can't read"):
        read_export(path)


def test_zip_bomb_is_refused_from_the_directory(tmp_path: Path) -> None:
    """A member really holding 201 MiB (of zeros: under 1 MB compressed) is refused unread."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("top/watched.csv", csv_text("watched.csv", ",Heat,1995,u"))
        with archive.open("top/ratings.csv", "w", force_zip64=True) as member:
            member.write(HEADERS["ratings.csv"].encode() + b"\n")
            chunk = bytes(1024 * 1024)
            for _ in range(201):
                member.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(LetterboxdFormatError, match="that is not an export Letterboxd made") as caught:
        read_export(path)
    assert caught.value.code == "zip_bomb"


def test_size_limit_is_checked_before_anything_is_decompressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ratings.csv", csv_text("ratings.csv", *["2025-01-01,Heat,1995,u,4"] * 40))
        archive.writestr("watched.csv", csv_text("watched.csv", *[",Heat,1995,u"] * 40))
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member was opened before the size check")

    monkeypatch.setattr(lb, "MAX_EXPORT_BYTES", total - 1)
    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    with pytest.raises(LetterboxdFormatError, match="too big to import"):
        read_export(path)
    monkeypatch.undo()  # real ZipFile.open again
    monkeypatch.setattr(lb, "MAX_EXPORT_BYTES", total)
    assert len(read_export(path).films) == 1  # exactly at the limit is fine


def test_claimed_size_in_directory_is_what_counts(tmp_path: Path) -> None:
    """A tiny member whose directory entry claims 4 GB is refused without being read."""
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ratings.csv", csv_text("ratings.csv", "2025-01-01,Heat,1995,u,4"))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 0xFFFF_FFF0)  # uncompressed size in the central directory
    path.write_bytes(bytes(data))
    with pytest.raises(LetterboxdFormatError) as caught:
        read_export(path)
    assert caught.value.code == "zip_bomb"


# --- html_to_text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("Plain text, no markup.", "Plain text, no markup."),
        ("<i>Italic</i> and <b>bold</b> and <em>em</em>", "Italic and bold and em"),
        ("one<br />two<br/>three<br>four", "one\ntwo\nthree\nfour"),
        ("one<br />\ntwo", "one\ntwo"),  # <br> + newline is one break
        ("one<br /><br />two", "one\n\ntwo"),
        ("<p>First.</p><p>Second.</p>", "First.\n\nSecond."),
        ("<p>First.</p>\n<p>Second.</p>\n", "First.\n\nSecond."),
        ("<blockquote>Quoted words.</blockquote>My take.", "Quoted words.\n\nMy take."),
        ("Fish &amp; chips &lt;3 &quot;yes&quot; &#233;t&eacute;", 'Fish & chips <3 "yes" été'),
        ("a&nbsp;b", "a b"),
        ("Line one\n\n\n\n\nLine two", "Line one\n\nLine two"),
        ("  \n<p> </p>\n  padded  \n\n", "padded"),
        ("<i>unclosed <b>tags<i> keep going", "unclosed tags keep going"),
        ('<a href="https://boxd.it/x">a list</a>', "a list"),
        ("a < b and 3 > 2", "a < b and 3 > 2"),
        ("x<!-- a comment -->y", "xy"),
        ("Windows\r\nline\rends", "Windows\nline\nends"),
        ("trailing spaces   \nnext", "trailing spaces\nnext"),
        ("", ""),
        ("<p></p><br />", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_deep_nesting_does_not_recurse() -> None:
    html = "<i>" * 5000 + "deep" + "</i>" * 5000
    assert html_to_text(html) == "deep"


def test_html_to_text_multiline_blockquote() -> None:
    html = "<blockquote>\n[a line]\n[another]\n</blockquote>After."
    assert html_to_text(html) == "[a line]\n[another]\n\nAfter."


# --- unmatched_csv_bytes ------------------------------------------------------------------------


def test_unmatched_csv_round_trip(demo: LetterboxdExport) -> None:
    films = demo.films
    raw = unmatched_csv_bytes(films)
    assert raw.startswith(b"\xef\xbb\xbf")  # so spreadsheets open it as UTF-8
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    assert tuple(reader.fieldnames or ()) == lb.UNMATCHED_COLUMNS
    rows = list(reader)
    assert len(rows) == len(films)
    for film, row in zip(films, rows, strict=True):
        assert row["Name"] == film.name
        assert row["Year"] == ("" if film.year is None else str(film.year))
        assert (Decimal(row["Rating"]) if row["Rating"] else None) == film.rating
        assert (date.fromisoformat(row["Watched Date"]) if row["Watched Date"] else None) == film.watched_on
        assert (row["Watched"], row["Liked"], row["Watchlist"]) == tuple(
            "Yes" if flag else "" for flag in (film.watched, film.liked, film.on_watchlist)
        )
        assert row["Review"] == (film.review or "")
    spirited = next(row for row in rows if row["Name"] == "Spirited Away")
    assert spirited["Rating"] == "4.5"
    assert "\n\n" in spirited["Review"]  # multi-line text survives quoting


def test_unmatched_csv_empty() -> None:
    assert unmatched_csv_bytes([]) == ("\ufeff" + ",".join(lb.UNMATCHED_COLUMNS) + "\r\n").encode()


if __name__ == "__main__":
    import sys

    print(build_demo_zip(Path(sys.argv[1])))


# --- when each rating was given (newest rating wins on import) ------------------------------------


def test_rated_on_is_the_date_of_the_chosen_rating_row(
    films: dict[tuple[str, int | None], LetterboxdFilm],
) -> None:
    assert films["alien", 1979].rated_on == date(2025, 9, 14)  # the later ratings.csv row (5)
    assert films["heat", 1995].rated_on == date(2025, 4, 1)  # not the older row's 2024-11-30
    assert films["spirited away", 2001].rated_on == date(2025, 10, 2)  # the rated diary row's Date
    assert films["amélie", 2001].rated_on == date(2025, 6, 11)  # the reviews.csv row's Date
    assert films["blade runner", 1982].rated_on is None  # unrated


def test_rated_on_falls_back_to_watched_date_and_may_be_none(tmp_path: Path) -> None:
    export = read_export(
        write_export(
            tmp_path,
            {
                "diary.csv": csv_text("diary.csv", ",Heat,1995,u,4,,,2024-03-02"),
                "ratings.csv": csv_text("ratings.csv", ",Alien,1979,u,4"),
            },
        )
    )
    assert by_key(export)["heat", 1995].rated_on == date(2024, 3, 2)
    assert by_key(export)["alien", 1979].rated_on is None


# --- hostile input: zip member names and NUL characters ---------------------------------------------


def _zip_of(*names: str, text: str | None = None) -> bytes:
    """A zip holding `csv_text("ratings.csv", …Alien…)` under each of `names` (duplicates allowed)."""
    body = text or csv_text("ratings.csv", "2024-01-01,Alien,1979,u,4")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about duplicate names
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in names:
                archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), body)
    return buffer.getvalue()


def _rename(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rewrite a member name in both zip headers (same length: offsets stay valid)."""
    assert len(old) == len(new) and data.count(old) == 2
    return data.replace(old, new)


@pytest.mark.parametrize(
    "name",
    [
        "/abs/ratings.csv",  # absolute: a KeyError before
        "/ratings.csv",
        "letterboxd-x\\ratings.csv",  # Windows separators
        "C:\\ratings.csv",
        "C:/ratings.csv",
    ],
)
def test_odd_but_harmless_member_names_are_read(name: str) -> None:
    export = lb.read_export_bytes(_zip_of(name), "export.zip")
    assert export.files_read == ("ratings.csv",)
    assert [(f.name, f.rating) for f in export.films] == [("Alien", Decimal("4"))]


@pytest.mark.parametrize("name", ["../ratings.csv", "x/../ratings.csv", "../../etc/ratings.csv"])
def test_traversal_names_are_ignored_with_a_friendly_error(name: str) -> None:
    with pytest.raises(LetterboxdFormatError) as caught:
        lb.read_export_bytes(_zip_of(name), "export.zip")
    assert caught.value.code == "no_files"


def test_a_traversal_name_beside_the_real_file_is_ignored() -> None:
    export = lb.read_export_bytes(_zip_of("../watched.csv", "ratings.csv"), "export.zip")
    assert export.files_read == ("ratings.csv",)


def test_duplicate_member_names_read_one_of_them() -> None:
    for names in (
        ("ratings.csv", "ratings.csv"),
        ("ratings.csv", "RATINGS.CSV"),
        ("a/ratings.csv", "a/ratings.csv"),
    ):
        export = lb.read_export_bytes(_zip_of(*names), "export.zip")
        assert [f.name for f in export.films] == ["Alien"], names


def test_a_member_name_with_nul_is_read() -> None:
    data = _rename(_zip_of("ratings.csvXjunk"), b"ratings.csvXjunk", b"ratings.csv\x00junk")
    export = lb.read_export_bytes(data, "export.zip")  # zipfile cuts the name at NUL
    assert [f.name for f in export.films] == ["Alien"]


def test_a_non_utf8_member_name_is_read_or_refused_kindly() -> None:
    # without the UTF-8 flag a name is cp437: any bytes decode, the export is read
    data = _rename(_zip_of("top/ratings.csv", "tXp/notes.txt"), b"tXp/", b"t\xff\xfe/")
    assert [f.name for f in lb.read_export_bytes(data, "export.zip").films] == ["Alien"]
    # with the UTF-8 flag (set for "é") and bytes that are not UTF-8: a friendly refusal
    flagged = _rename(_zip_of("top/ratings.csv", "é/notes.txt"), "é".encode(), b"\xff\xfe")
    with pytest.raises(LetterboxdFormatError) as caught:
        lb.read_export_bytes(flagged, "export.zip")
    assert caught.value.code == "not_zip"


def test_nul_characters_never_reach_a_cell() -> None:
    text = csv_text(
        "reviews.csv",
        '2024-01-02,Ali\x00en,1979,u,4,,"Gr\x00eat <b>mo\x00nster</b>",,2024-01-01',
        "2024-01-02,\x00,1980,u,4,,x,,2024-01-01",  # a name that is only NUL is empty
    )
    export = lb.read_export_bytes(text.encode(), "reviews.csv")
    (alien,) = export.films
    assert (alien.name, alien.review) == ("Alien", "Great monster")
    assert [p.code for p in export.problems] == ["empty_name"]
    zipped = lb.read_export_bytes(_zip_of("reviews.csv", text=text), "export.zip")
    assert "\x00" not in repr(zipped)


@pytest.mark.parametrize("data", [b"a\rb", b'x,"y\rz', b"\xff\xfe\r\r\x00"])
def test_a_lone_csv_with_bare_carriage_returns_is_refused_kindly(data: bytes) -> None:
    """Found by the fuzzer: a bare \\r in a lone CSV's first line raised csv.Error."""
    with pytest.raises(LetterboxdFormatError):
        read_export_bytes(data, "film.csv")
