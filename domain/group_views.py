"""What a group sees of a watch-together round (domain/groups.py): members by name, the
round, the cards with their reasons and votes, the decision, and why a tap was refused.
Values only; a group never sees anyone's ratings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from db.models import GroupPick
from db.repositories.groups import MemberRow
from domain.entities import FilmInfo
from recommender.group import GroupReason, GroupReasonKind


@dataclass(frozen=True, slots=True)
class Member:
    """A member as a group may see them: a name, never a rating. `private`: they have a
    private chat with the bot (else a group round asks them to open one)."""

    user_id: int
    telegram_id: int
    name: str
    private: bool


@dataclass(frozen=True, slots=True)
class RoundView:
    round_id: int
    status: str
    members: tuple[Member, ...]
    message_id: int | None
    show_names: bool


@dataclass(frozen=True, slots=True)
class Card:
    """One group pick as its card shows it: `reasons` name members by `names` (user id →
    name); `up`/`down` are the names of who voted each way (shown only with `show_names`)."""

    pick_id: int
    position: int
    film: FilmInfo
    reasons: tuple[GroupReason, ...]
    names: dict[int, str]
    up: tuple[str, ...]
    down: tuple[str, ...]
    message_id: int | None
    score: float
    show_names: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """A round's end: the winning card, every card with its final counts, and whether the
    vote ran out of time (`timed_out`) rather than everyone having voted."""

    round_id: int
    winner: Card
    cards: tuple[Card, ...]
    timed_out: bool
    voters: int


@dataclass(frozen=True, slots=True)
class DueDecision:
    """A round its job closed: where to announce it, and in which language."""

    chat_id: int
    locale: str | None
    decision: Decision


class Refusal(Enum):
    NOT_IN_ROUND = "not_in_round"
    NOT_A_MEMBER = "not_a_member"
    TOO_FEW = "too_few"
    CLOSED = "closed"
    NO_FILMS = "no_films"
    VOTING = "voting"


@dataclass(frozen=True, slots=True)
class Picks:
    round: RoundView
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class VoteResult:
    """`card`: the voted card with its counts now; `decision` when this vote ended the round;
    `changed`: False when the vote was already exactly this."""

    card: Card
    changed: bool
    decision: Decision | None


def display_name(first_name: str | None, telegram_id: int) -> str:
    """A member's name as a group sees it: their Telegram first name."""
    return (first_name or "").strip() or f"#{telegram_id}"


def encode_group_reasons(reasons: Sequence[GroupReason]) -> list[list[object]]:
    """Reasons as stored in `group_picks.reasons`: [[kind, [user ids], genre, value], …]."""
    return [[r.kind.value, list(r.members), r.genre, r.value] for r in reasons]


def decode_group_reasons(stored: Sequence[Sequence[object]]) -> tuple[GroupReason, ...]:
    reasons = []
    for kind, members, genre, value in stored:
        reasons.append(
            GroupReason(
                GroupReasonKind(str(kind)),
                tuple(int(m) for m in members),  # type: ignore[attr-defined]
                None if genre is None else str(genre),
                None if value is None else str(value),
            )
        )
    return tuple(reasons)


def member_view(row: MemberRow) -> Member:
    """A round member as the group sees them."""
    return Member(row.user_id, row.telegram_id, display_name(row.first_name, row.telegram_id), row.private)


def card_view(
    pick: GroupPick,
    details: dict[int, FilmInfo],
    names: dict[int, str],
    votes: dict[int, int],
    show_names: bool,
) -> Card:
    """A stored group pick as its card shows it (a film missing from the catalog: its TMDB id)."""
    film = details.get(pick.tmdb_id) or FilmInfo(tmdb_id=pick.tmdb_id, title=f"TMDB {pick.tmdb_id}")
    return Card(
        pick_id=pick.id,
        position=pick.position,
        film=film,
        reasons=decode_group_reasons(pick.reasons),
        names=names,
        up=tuple(sorted(names.get(u, "?") for u, v in votes.items() if v > 0)),
        down=tuple(sorted(names.get(u, "?") for u, v in votes.items() if v < 0)),
        message_id=pick.message_id,
        score=pick.score,
        show_names=show_names,
    )


def card_of(cards: Sequence[Card], pick_id: int) -> Card:
    """The card of `pick_id` among `cards` (StopIteration if absent: a caller's bug)."""
    return next(c for c in cards if c.pick_id == pick_id)
