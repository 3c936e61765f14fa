"""Errors a user can cause or meet. Each carries what the bot needs to explain it kindly;
none carries internal details. The bot maps them to texts in the user's language."""

from __future__ import annotations


class UserFacingError(Exception):
    """Base class: something the user should be told about in plain words."""


class ReviewTooLongError(UserFacingError):
    def __init__(self, max_chars: int) -> None:
        super().__init__(f"review longer than {max_chars} characters")
        self.max_chars = max_chars


class FilmNotFoundError(UserFacingError):
    """A film id that is not in the catalog (stale button, deleted row)."""
