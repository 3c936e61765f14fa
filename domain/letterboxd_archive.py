"""The files of a Letterboxd export (`domain.letterboxd`): which member of a zip or folder is which.

Finds the recognised files (`RECOGNISED_FILES`) at the root of a zip or folder or under one
top folder, checks a zip from its directory alone before anything is decompressed (compression
method, encryption, `MAX_COMPRESSION_RATIO`), tells which file a lone CSV is from its name or
columns (`csv_role`), recognises other sites' exports by their columns (`other_site`), and
decodes a file's bytes to text (`decode`). Each file found is a `Member`: its canonical
name, size, and an opener; the rows inside are read by `domain.letterboxd_rows`.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from charset_normalizer import from_bytes

from domain.letterboxd_types import HOW_TO_EXPORT, LetterboxdFormatError

#: The files `domain.letterboxd` reads, in the order they are read (which sets the "first-seen" film order).
RECOGNISED_FILES: Final[tuple[str, ...]] = (
    "ratings.csv",
    "watched.csv",
    "diary.csv",
    "reviews.csv",
    "likes/films.csv",
    "watchlist.csv",
)
#: A member that unpacks to more than this many times its compressed size (and over 1 MB) is
#: refused as a zip bomb; CSV text deflates about 5:1, bombs 1000:1.
MAX_COMPRESSION_RATIO: Final = 100
# Letterboxd zips use deflate; bzip2/lzma decompress without an output bound, so they are refused.
_SAFE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


# ---------------------------------------------------------------------------------------------
# Locating the files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """One recognised file: its canonical name ("likes/films.csv"), size in bytes, and an opener."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


def _resolve(paths: Iterable[str]) -> dict[str, str]:
    """Map canonical recognised names to the paths as given (at the root, or in one top folder).

    `paths` are file paths as the folder or the zip directory spells them; they are compared
    as relative POSIX paths (backslashes read as "/", leading "/" dropped, so `/abs/ratings.csv`
    is `abs/ratings.csv`), ignoring case. `__MACOSX/`, dot-entries and `..` parts are ignored;
    of several paths that compare equal the first is taken. The values are the given paths
    (keys of the zip directory). Raises `LetterboxdFormatError` when several top folders hold
    export files.
    """
    index: dict[str, str] = {}
    for raw in paths:
        rel = raw.replace("\\", "/").lstrip("/")
        parts = rel.split("/")
        if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        index.setdefault(rel.casefold(), raw)
    found = {name: index[name] for name in RECOGNISED_FILES if name in index}
    if found:
        return found
    tops = sorted({key.split("/", 1)[0] for key in index if "/" in key})
    candidates: list[dict[str, str]] = []
    for top in tops:
        under = {name: index[f"{top}/{name}"] for name in RECOGNISED_FILES if f"{top}/{name}" in index}
        if under:
            candidates.append(under)
    if len(candidates) > 1:
        raise LetterboxdFormatError(
            "This holds more than one Letterboxd export. "
            "Please send just one export .zip, as Letterboxd made it.",
            code="several_exports",
        )
    return candidates[0] if candidates else {}


def folder_members(root: Path) -> list[Member]:
    """The recognised files of an unpacked export folder (searched up to 3 levels deep)."""
    rels: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth >= 2:
            dirnames.clear()
        prefix = Path(dirpath).relative_to(root).as_posix()
        rels.extend(name if prefix == "." else f"{prefix}/{name}" for name in filenames)
    members: list[Member] = []
    for name, rel in _resolve(rels).items():
        file_path = root / rel
        members.append(Member(name, file_path.stat().st_size, _file_opener(file_path)))
    return members


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        return path.open("rb")

    return opener


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        return archive.open(info)

    return opener


def zip_members(archive: zipfile.ZipFile) -> list[Member]:
    """The recognised members of an export zip, checked from the zip directory alone (nothing
    is decompressed here). zipfile stops reading a member at its declared size and checks its
    CRC, so a forged directory cannot unpack more than it declares. Member names are only
    compared, never used as paths (nothing is extracted): an absolute or `../` name is harmless;
    of duplicate names the last is read (as zipfile does)."""
    infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    members: list[Member] = []
    for name, rel in _resolve(infos).items():
        info = infos[rel]
        if info.compress_type not in _SAFE_COMPRESSION:
            raise LetterboxdFormatError(
                f"{name} in this zip uses a compression I can't read. {HOW_TO_EXPORT}", code="compression"
            )
        if info.flag_bits & 0x1:
            raise LetterboxdFormatError(f"This zip is password-protected. {HOW_TO_EXPORT}", code="encrypted")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO:
            raise LetterboxdFormatError(
                f"{name} in this zip unpacks to {info.file_size // (1024 * 1024)} MB from "
                f"{max(info.compress_size // 1024, 1)} KB: that is not an export Letterboxd made, "
                "so I didn't unpack it.",
                code="zip_bomb",
            )
        members.append(Member(name, info.file_size, _zip_opener(archive, info)))
    return members


#: Words in a lone CSV's name that say which export file it is (first match wins).
_NAME_HINTS: Final[tuple[tuple[str, str], ...]] = (
    ("watchlist", "watchlist.csv"),
    ("diary", "diary.csv"),
    ("review", "reviews.csv"),
    ("rating", "ratings.csv"),
    ("like", "likes/films.csv"),
    ("watched", "watched.csv"),
)
#: Columns of other sites' exports, to say what was sent instead of a bare "wrong columns".
_OTHER_SITES: Final[tuple[tuple[frozenset[str], str], ...]] = (
    (frozenset({"const", "your rating"}), "IMDb"),
    (frozenset({"const", "title type"}), "IMDb"),
    (frozenset({"profile name", "start time"}), "Netflix"),
    (frozenset({"title", "date"}), "Netflix"),
    (frozenset({"trakt_id"}), "Trakt"),
    (frozenset({"imdb_id", "tmdb_id", "rating"}), "Trakt"),
)


def csv_role(file_name: str, data: bytes) -> str:
    """Which recognised file a lone CSV is (see `read_export_bytes`)."""
    lowered = file_name.lower()
    for hint, role in _NAME_HINTS:
        if hint in lowered:
            return role
    head = io.StringIO(data[:4096].decode("utf-8", errors="replace"), newline="")  # a bare \r is a newline
    try:
        first = next(csv.reader(head), [])
    except csv.Error:  # not CSV at all: no recognised header
        first = []
    header = {column.strip().lower() for column in first}
    if "review" in header:
        return "reviews.csv"
    if "watched date" in header:
        return "diary.csv"
    if "rating" in header:
        return "ratings.csv"
    return "watched.csv"


def other_site(columns: set[str]) -> str | None:
    """The site a CSV with these `columns` comes from when it is another site's export (see
    _OTHER_SITES), else None (it has a Letterboxd URI column, or nothing tells)."""
    lowered = {column.lower() for column in columns}
    for needed, site in _OTHER_SITES:
        if needed <= lowered and "letterboxd uri" not in lowered:
            return site
    return None


def decode(raw: bytes) -> tuple[str, str | None]:
    """Text of a file, without NUL characters, and, when it is not UTF-8, the encoding it was
    read as.

    UTF-8 (with or without BOM) first; otherwise charset-normalizer's best guess (spreadsheets
    re-save CSVs as Windows-1252 or UTF-16); if even that fails, UTF-8 with U+FFFD for the bad
    bytes (the rows around them still read). NUL (U+0000) is dropped wherever it is: no cell
    carries it on (PostgreSQL refuses it in text)."""
    try:
        return _no_nul(raw.decode("utf-8-sig")), None
    except UnicodeDecodeError:
        pass
    best = from_bytes(raw).best()
    if best is not None:
        return _no_nul(str(best)), best.encoding
    return _no_nul(raw.decode("utf-8", errors="replace")), "utf-8 (damaged bytes replaced)"


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")
