"""The user account (fastapi-users compatible) with trial and subscription dates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.orm import Base, CreatedAt, UUIDPrimaryKey, utcnow


class User(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    login: Mapped[str | None] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    city: Mapped[str | None] = mapped_column(String(200))
    niche: Mapped[str | None] = mapped_column(String(300))
    trial_ends_at: Mapped[datetime | None]
    subscription_ends_at: Mapped[datetime | None]

    def has_active_access(self, now: datetime | None = None) -> bool:
        moment = now or utcnow()
        return any(end is not None and end > moment for end in (self.trial_ends_at, self.subscription_ends_at))
