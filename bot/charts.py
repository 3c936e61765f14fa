"""The /profile picture: a PNG drawn server-side with matplotlib's Agg renderer.

Portrait, 1080 × 1350 px (4:5, what Telegram shows full width on a phone without cropping), with
large type: the rating distribution in half stars (½ … 5) on top, the user's main genres by
average rating below. Every text on it comes in ready-made (translated by bot/texts.py); this
module only draws. It uses matplotlib's object API (a `Figure` with its own Agg canvas, no
pyplot state), so renders can run in worker threads: call :func:`render_profile_chart` through
``asyncio.to_thread`` (:func:`profile_chart_png`), never on the event loop. One render takes
about 0.2 s on this machine.

Fonts: matplotlib's bundled DejaVu Sans, which has Latin, Cyrillic, ★ and ½.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: Pixel size: 7.2 × 9 inches at 150 dpi.
WIDTH_IN, HEIGHT_IN, DPI = 7.2, 9.0, 150
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
    """Draw the chart; returns PNG bytes. CPU-bound (≈0.2 s): run it in a thread.

    Raises:
        ValueError: `distribution` does not have ten bins, or is all zeros (nothing to draw:
            the bot sends a text instead).
    """
    if len(chart.distribution) != len(HALF_STAR_TICKS):
        raise ValueError(f"distribution needs {len(HALF_STAR_TICKS)} half-star bins")
    if not any(chart.distribution):
        raise ValueError("no ratings to draw")
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    figure.text(0.06, 0.965, chart.title, fontsize=22, fontweight="bold", color=INK, va="top")
    figure.text(0.06, 0.918, chart.subtitle, fontsize=15, color=MUTED, va="top")
    if chart.genres:
        top = figure.add_gridspec(1, 1, left=0.12, right=0.92, top=0.79, bottom=0.6)
        labels = [_wrap(g.label) for g in chart.genres]
        widest = max(len(line) for label in labels for line in label.split("\n"))
        left = min(max(0.06 + 0.0175 * widest, 0.2), 0.45)
        bottom = figure.add_gridspec(1, 1, left=left, right=0.92, top=0.4, bottom=0.05)
        _ratings(figure.add_subplot(top[0]), chart)
        _genres(figure.add_subplot(bottom[0]), chart, labels)
    else:
        grid = figure.add_gridspec(1, 1, left=0.12, right=0.92, top=0.79, bottom=0.1)
        _ratings(figure.add_subplot(grid[0]), chart)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


async def profile_chart_png(chart: ProfileChart) -> bytes:
    """:func:`render_profile_chart` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(render_profile_chart, chart)


def _ratings(ax: Axes, chart: ProfileChart) -> None:
    counts = list(chart.distribution)
    positions = range(len(counts))
    bars = ax.bar(positions, counts, color=GOLD, width=0.78, zorder=2)
    top = max(counts)
    for bar, count in zip(bars, counts, strict=True):
        if count:
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                count + top * 0.03,
                str(count),
                ha="center",
                va="bottom",
                fontsize=12,
                color=INK,
            )
    _panel_title(ax, chart.ratings_title)
    ax.set_xticks(list(positions), HALF_STAR_TICKS, fontsize=14, color=INK)
    ax.set_xlabel(chart.stars_axis, fontsize=13, color=MUTED)
    ax.set_ylabel(chart.films_axis, fontsize=13, color=MUTED)
    ax.set_ylim(0, top * 1.2)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.tick_params(axis="y", labelsize=12, colors=MUTED, length=0)
    ax.tick_params(axis="x", length=0)
    _clean(ax)


def _genres(ax: Axes, chart: ProfileChart, labels: Sequence[str]) -> None:
    genres = list(chart.genres)
    rows = range(len(genres))
    # the average line first and under the bars: it shows between them, never across a number
    ax.axvline(chart.average, color=INK, linestyle=(0, (4, 3)), linewidth=1.4, zorder=1.5)
    ax.barh(rows, [g.average for g in genres], color=TEAL, height=0.66, zorder=2)
    for row, genre in zip(rows, genres, strict=True):
        inside = genre.average >= INSIDE_FROM
        ax.text(
            genre.average - 0.08 if inside else genre.average + 0.08,
            row,
            genre.note,
            ha="right" if inside else "left",
            va="center",
            fontsize=12,
            color="white" if inside else INK,
            bbox=None
            if inside
            else {"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"},
            zorder=3,
        )
    ax.text(
        chart.average,
        -0.75,
        chart.average_label,
        ha="center",
        va="bottom",
        fontsize=11,
        color=INK,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none"},
        zorder=5,
    )
    _panel_title(ax, chart.genres_title)
    ax.set_yticks(list(rows), list(labels), fontsize=14, color=INK, linespacing=1.0)
    ax.set_xlim(0, 5)
    # inverted (best first, at the top), room above for the average's label, and at least
    # MIN_ROWS rows so a few genres do not become fat bars
    ax.set_ylim(max(len(genres), MIN_ROWS) - 0.5, -0.9)
    ax.set_xticks([1, 2, 3, 4, 5], ["1★", "2★", "3★", "4★", "5★"], fontsize=12, color=MUTED)
    ax.tick_params(length=0)
    _clean(ax, horizontal=True)


def _panel_title(ax: Axes, title: str) -> None:
    """A panel's title, left-aligned with the figure's title (not with the axes, whose left
    edge moves with the genre names), wrapped to fit the width."""
    figure = ax.get_figure()
    assert figure is not None
    top = ax.get_position().y1
    wrapped = textwrap.fill(title, TITLE_WRAP_AT)
    figure.text(0.06, top + 0.03, wrapped, fontsize=17, fontweight="bold", color=INK, va="bottom")


def _wrap(label: str) -> str:
    """Genre names longer than WRAP_AT characters go on two lines ("Science\nFiction")."""
    if len(label) <= WRAP_AT or " " not in label:
        return label
    words = label.split(" ")
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(label) / 2))
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def _clean(ax: Axes, *, horizontal: bool = False) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GRID)
    ax.set_axisbelow(True)
    ax.grid(axis="x" if horizontal else "y", color=GRID, linewidth=1)
