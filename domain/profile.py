"""What the bot knows about a user, for greetings and summaries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    rated: int
    watched: int
    reviews: int


class ProfileService:
    def __init__(self, session: AsyncSession) -> None:
        self.library = LibraryRepository(session)

    async def summary(self, user_id: int) -> ProfileSummary:
        counts = await self.library.counts(user_id)
        return ProfileSummary(rated=counts["rated"], watched=counts["watched"], reviews=counts["reviews"])
