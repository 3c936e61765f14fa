"""The /profile picture: a JPEG drawn server-side with Pillow's ImageDraw.

Portrait, 1080 × 1350 px (4:5, what Telegram shows full width on a phone without cropping), with
large type: the rating distribution in half stars (½ … 5) on top, the user's main genres by
average rating below. Every text on it comes in ready-made (translated by bot/texts.py); this
module only draws. A render is CPU-bound (≈22 ms on this machine, ≈9 of them the JPEG encoding;
matplotlib's Agg and a PNG took ≈240 ms for the same picture), so :func:`profile_chart_jpeg`
runs it in a worker thread, off the event loop.

JPEG, not PNG: Telegram re-encodes every photo sent with sendPhoto as a JPEG anyway, and a PNG
of this size took ≈50 ms to compress. Quality 90 without chroma subsampling (4:4:4) keeps the
coloured type sharp.

Fonts: DejaVu Sans as bundled with matplotlib (Latin, Cyrillic, ★ and ½); matplotlib also picks
the rating axis's ticks (`MaxNLocator`). Nothing else of matplotlib is used.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from matplotlib import font_manager
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont

#: Pixel size: 7.2 × 9 inches at 150 dpi; type sizes below are points at this dpi.
WIDTH, HEIGHT, DPI = 1080, 1350, 150
#: JPEG quality (Pillow's 1–95 scale) and chroma subsampling (0: 4:4:4, none).
JPEG_QUALITY, JPEG_SUBSAMPLING = 90, 0
#: Colours: star gold for ratings, teal for genres, ink and muted grey for text.
GOLD, TEAL, INK, MUTED, GRID = "#E3A21A", "#1F8A8A", "#1D1D1F", "#6E6E73", "#E5E5EA"
#: x tick labels of the ten half-star bins, 0.5 … 5.
HALF_STAR_TICKS = ("½", "1", "1½", "2", "2½", "3", "3½", "4", "4½", "5")
#: Genre bars at least this long (stars) carry their note inside, in white; shorter: after it.
INSIDE_FROM = 3.2
#: The genre panel is drawn for at least this many rows; labels wrap after WRAP_AT characters.
MIN_ROWS, WRAP_AT = 5, 16
#: Panel titles wrap after this many characters (one line fits about 45 at 17 pt).
TITLE_WRAP_AT = 42
#: Left margin of the titles, and the panels' frames (left, top, right, bottom) in pixels.
MARGIN: Final = 65
RATINGS_BOX: Final = (130, 283, 994, 540)  # above the genre panel
RATINGS_ALONE_BOX: Final = (130, 283, 994, 1215)  # no genres to show
GENRES_BOX: Final = (0, 810, 994, 1282)  # left edge from the widest genre label
#: Gap between an axis and its tick labels, and above a panel to its title's bottom (pixels).
TICK_PAD, TITLE_GAP = 8, 40
#: Measures a boxed label's height: the tallest capital and the deepest descender.
FULL_HEIGHT: Final = "ÅÉjgy|"


@dataclass(frozen=True, slots=True)
class GenreBar:
    """One genre: its (translated) name, the average rating in stars (0.5–5) and the text
    printed at the end of the bar (e.g. "4.3★ · 12 films")."""

    label: str
    average: float
    note: str


@dataclass(frozen=True, slots=True)
class ProfileChart:
    """What the picture shows, texts already in the user's language. `distribution` has one
    count per half star, 0.5 first (ten numbers); `genres` best first, may be empty (the genre
    panel is then left out); `average` is the user's mean rating in stars, marked on the genre
    panel with `average_label` (e.g. "your average 3.6★")."""

    title: str
    subtitle: str
    ratings_title: str
    stars_axis: str
    films_axis: str
    distribution: Sequence[int]
    genres_title: str
    genres: Sequence[GenreBar]
    average: float
    average_label: str


def render_profile_chart(chart: ProfileChart) -> bytes:
    """Draw the chart; returns JPEG bytes (1080 × 1350). CPU-bound: run it in a thread.

    Raises:
        ValueError: `distribution` does not have ten bins, or is all zeros (nothing to draw:
            the bot sends a text instead).
    """
    if len(chart.distribution) != len(HALF_STAR_TICKS):
        raise ValueError(f"distribution needs {len(HALF_STAR_TICKS)} half-star bins")
    if not any(chart.distribution):
        raise ValueError("no ratings to draw")
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 47), chart.title, font=_font(22, bold=True), fill=INK, anchor="la")
    draw.text((MARGIN, 111), chart.subtitle, font=_font(15), fill=MUTED, anchor="la")
    if chart.genres:
        labels = [_wrap(g.label) for g in chart.genres]
        widest = max(len(line) for label in labels for line in label.split("\n"))
        left = min(max(0.06 + 0.0175 * widest, 0.2), 0.45)  # of the width, as the labels need
        _ratings(image, draw, chart, RATINGS_BOX)
        _genres(draw, chart, labels, (round(left * WIDTH), *GENRES_BOX[1:]))
    else:
        _ratings(image, draw, chart, RATINGS_ALONE_BOX)
    out = io.BytesIO()
    image.save(out, format="jpeg", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    return out.getvalue()


async def profile_chart_jpeg(chart: ProfileChart) -> bytes:
    """:func:`render_profile_chart` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(render_profile_chart, chart)


Box = tuple[int, int, int, int]


def _ratings(image: Image.Image, draw: ImageDraw.ImageDraw, chart: ProfileChart, box: Box) -> None:
    left, top, right, bottom = box
    counts = list(chart.distribution)
    peak = max(counts)
    y_max = peak * 1.2
    # the bars' slots as matplotlib lays them out: 0 … 9, 5 % margins around the bars
    x_lo, x_hi = -0.879, 9.879

    def x(value: float) -> float:
        return left + (value - x_lo) / (x_hi - x_lo) * (right - left)

    def y(value: float) -> float:
        return bottom - value / y_max * (bottom - top)

    _panel_title(draw, chart.ratings_title, top)
    ticks = [t for t in MaxNLocator(nbins=5, integer=True).tick_values(0, y_max) if 0 <= t <= y_max]
    small = _font(12)
    for tick in ticks:
        draw.line([(left, y(tick)), (right, y(tick))], fill=GRID, width=2)
        draw.text((left - TICK_PAD, y(tick)), f"{tick:g}", font=small, fill=MUTED, anchor="rm")
    draw.line([(left, bottom), (right, bottom)], fill=GRID, width=2)
    label_font = _font(14)
    for slot, count in enumerate(counts):
        if count:
            draw.rectangle([x(slot - 0.39), y(count), x(slot + 0.39), bottom], fill=GOLD)
            draw.text((x(slot), y(count + peak * 0.03)), str(count), font=small, fill=INK, anchor="md")
        draw.text((x(slot), bottom + TICK_PAD), HALF_STAR_TICKS[slot], font=label_font, fill=INK, anchor="ma")
    axis_font = _font(13)
    below = bottom + TICK_PAD + _line_height(label_font) + TICK_PAD
    draw.text(((left + right) / 2, below), chart.stars_axis, font=axis_font, fill=MUTED, anchor="ma")
    widest_tick = max(draw.textlength(f"{t:g}", font=small) for t in ticks)
    _vertical_text(
        image, draw, chart.films_axis, axis_font, left - TICK_PAD * 2 - widest_tick, (top + bottom) / 2
    )


def _genres(draw: ImageDraw.ImageDraw, chart: ProfileChart, labels: Sequence[str], box: Box) -> None:
    left, top, right, bottom = box
    genres = list(chart.genres)
    # best first, at the top; room above for the average's label; at least MIN_ROWS rows
    row_lo, row_hi = -0.9, max(len(genres), MIN_ROWS) - 0.5

    def x(stars: float) -> float:
        return left + stars / 5 * (right - left)

    def y(row: float) -> float:
        return top + (row - row_lo) / (row_hi - row_lo) * (bottom - top)

    _panel_title(draw, chart.genres_title, top)
    small = _font(12)
    for star in range(1, 6):
        draw.line([(x(star), top), (x(star), bottom)], fill=GRID, width=2)
        draw.text((x(star), bottom + TICK_PAD), f"{star}★", font=small, fill=MUTED, anchor="ma")
    draw.line([(left, bottom), (right, bottom)], fill=GRID, width=2)
    # the average line first and under the bars: it shows between them, never across a number
    _dashed_vertical(draw, x(chart.average), top, bottom)
    label_font = _font(14)
    for row, (genre, label) in enumerate(zip(genres, labels, strict=True)):
        draw.rectangle([left, y(row - 0.33), x(genre.average), y(row + 0.33)], fill=TEAL)
        _multiline(draw, label, label_font, left - TICK_PAD, y(row))
        if genre.average >= INSIDE_FROM:
            draw.text((x(genre.average - 0.08), y(row)), genre.note, font=small, fill="white", anchor="rm")
        else:
            _boxed(draw, (x(genre.average + 0.08), y(row)), genre.note, small, anchor="lm", pad=0.15)
    _boxed(
        draw, (x(chart.average), y(-0.75)), chart.average_label, _font(11), anchor="md", pad=0.25, round_=True
    )


def _panel_title(draw: ImageDraw.ImageDraw, title: str, panel_top: int) -> None:
    """A panel's title, left-aligned with the figure's title (not with the panel, whose left
    edge moves with the genre names), wrapped to fit the width, its last line just above."""
    font = _font(17, bold=True)
    lines = textwrap.fill(title, TITLE_WRAP_AT).split("\n")
    step = _line_height(font)
    for i, line in enumerate(reversed(lines)):
        draw.text((MARGIN, panel_top - TITLE_GAP - i * step), line, font=font, fill=INK, anchor="ld")


def _multiline(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, right: float, middle: float
) -> None:
    """`text`'s lines right-aligned at `right`, the block centred on `middle`."""
    lines = text.split("\n")
    step = _line_height(font)
    first = middle - step * (len(lines) - 1) / 2
    for i, line in enumerate(lines):
        draw.text((right, first + i * step), line, font=font, fill=INK, anchor="rm")


def _boxed(
    draw: ImageDraw.ImageDraw,
    at: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    *,
    anchor: str,
    pad: float,
    round_: bool = False,
) -> None:
    """`text` on a white box `pad` × the type size wider on every side, a full line high
    whatever the letters (hides the grid and the average line under it)."""
    x0, _, x1, _ = draw.textbbox(at, text, font=font, anchor=anchor)
    _, y0, _, y1 = draw.textbbox(at, FULL_HEIGHT, font=font, anchor=anchor)
    p = pad * font.size
    shape = [x0 - p, y0 - p, x1 + p, y1 + p]
    if round_:
        draw.rounded_rectangle(shape, radius=p, fill="white")
    else:
        draw.rectangle(shape, fill="white")
    draw.text(at, text, font=font, fill=INK, anchor=anchor)


def _dashed_vertical(draw: ImageDraw.ImageDraw, at: float, top: float, bottom: float) -> None:
    """matplotlib's (0, (4, 3)) dash at 1.4 pt: 4 and 3 line widths, 3 px wide."""
    on, off = 4 * 1.4 * DPI / 72, 3 * 1.4 * DPI / 72
    start = top
    while start < bottom:
        draw.line([(at, start), (at, min(start + on, bottom))], fill=INK, width=3)
        start += on + off


def _vertical_text(
    image: Image.Image,
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont,
    right: float,
    middle: float,
) -> None:
    """`text` turned 90° (reading upwards), its right edge at `right`, centred on `middle`."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font, anchor="lt")
    label = Image.new("L", (int(x1 - x0) + 2, int(y1 - y0) + 2), 0)
    ImageDraw.Draw(label).text((-x0 + 1, -y0 + 1), text, font=font, fill=255, anchor="lt")
    turned = label.rotate(90, expand=True)
    image.paste(MUTED, (int(right - turned.width), int(middle - turned.height / 2)), turned)


def _wrap(label: str) -> str:
    """Genre names longer than WRAP_AT characters go on two lines ("Science\nFiction")."""
    if len(label) <= WRAP_AT or " " not in label:
        return label
    words = label.split(" ")
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(label) / 2))
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def _line_height(font: ImageFont.FreeTypeFont) -> float:
    ascent, descent = font.getmetrics()
    return float(ascent + descent)


_fonts = threading.local()  # FreeType faces are not shared between threads


def _font(points: float, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at `points` (pt at DPI), loaded once per thread."""
    cache: dict[tuple[float, bool], ImageFont.FreeTypeFont] = _fonts.__dict__.setdefault("cache", {})
    key = (points, bold)
    if key not in cache:
        path = font_manager.findfont(
            font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal"),
            fallback_to_default=False,
        )
        cache[key] = ImageFont.truetype(path, size=round(points * DPI / 72))
    return cache[key]
