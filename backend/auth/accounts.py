"""The one account service: password sign-up, the chat funnel and the chat login share it.

Bound to the caller's unit of work (the request's or the turn's ``AsyncSession``): it only flushes.
Rules kept here and nowhere else:

* an account is created once per e-mail, or an existing one is attached;
* the trial (``TRIAL_DAYS``) starts exactly once per account: when ``trial_ends_at`` is still empty;
* the access status has three visitor-facing states: no account, access running (trial or
  subscription, until a date) and access ended (since a date); a whitelisted e-mail has access;
* a new account is a lead: its outbox row (``backend.leads``) is written in the same unit of work,
  with the contact, city, niche and trial end the account was created with, and where the visitor
  of the registering session came from.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fastapi_users import exceptions as fu_exceptions
from fastapi_users import schemas as fu_schemas
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import repository
from backend.auth.exceptions import UserAlreadyExists
from backend.auth.models import User
from backend.auth.users import UserManager, make_user_manager
from backend.core.config import Settings
from backend.core.errors import Unprocessable
from backend.core.orm import utcnow
from backend.leads.service import LeadOutbox


class AccessState(StrEnum):
    GUEST = "guest"  # no account (or not signed in)
    TRIAL = "trial"  # the trial runs until ``until``
    SUBSCRIPTION = "subscription"  # a paid subscription (or the whitelist) runs until ``until`` (None: no end)
    TRIAL_ENDED = "trial_ended"  # the account's trial ended at ``until`` (and no subscription since)
    SUBSCRIPTION_ENDED = "subscription_ended"  # the account's subscription ended at ``until``
    NONE = "none"  # an account that never had a trial or a subscription (rows older than this rule)


@dataclass(frozen=True)
class Access:
    state: AccessState
    until: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in (AccessState.TRIAL, AccessState.SUBSCRIPTION)


def access_of(user: User | None, settings: Settings, now: datetime | None = None) -> Access:
    """The visitor's access status; ``now`` is read from the clock unless given."""
    if user is None:
        return Access(AccessState.GUEST)
    moment = now or utcnow()
    if user.email.lower() in {e.lower() for e in settings.SUBSCRIPTION_WHITELIST}:
        return Access(AccessState.SUBSCRIPTION, user.subscription_ends_at)
    if user.subscription_ends_at is not None and user.subscription_ends_at > moment:
        return Access(AccessState.SUBSCRIPTION, user.subscription_ends_at)
    if user.trial_ends_at is not None and user.trial_ends_at > moment:
        return Access(AccessState.TRIAL, user.trial_ends_at)
    if user.subscription_ends_at is not None and (
        user.trial_ends_at is None or user.subscription_ends_at >= user.trial_ends_at
    ):
        return Access(AccessState.SUBSCRIPTION_ENDED, user.subscription_ends_at)
    if user.trial_ends_at is not None:
        return Access(AccessState.TRIAL_ENDED, user.trial_ends_at)
    return Access(AccessState.NONE)


class AccountService:
    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._manager: UserManager = make_user_manager(db, settings)  # its user database only flushes
        self._leads = LeadOutbox(db, settings)

    def access(self, user: User | None) -> Access:
        return access_of(user, self._settings)

    async def find(self, email: str) -> User | None:
        try:
            return await self._manager.get_by_email(email.strip().lower())
        except fu_exceptions.UserNotExists:
            return None

    def start_trial(self, user: User) -> None:
        """Open the trial once per account: an account that already had one keeps its dates."""
        if user.trial_ends_at is None:
            user.trial_ends_at = utcnow() + timedelta(days=self._settings.TRIAL_DAYS)

    async def register_with_password(self, email: str, password: str) -> User:
        """``POST /auth/register``: a new account with its trial."""
        try:
            user = await self._manager.create(fu_schemas.BaseUserCreate(email=email, password=password), safe=True)
        except fu_exceptions.UserAlreadyExists as exc:
            raise UserAlreadyExists from exc
        except fu_exceptions.InvalidPasswordException as exc:
            raise Unprocessable(str(exc.reason), error_code="INVALID_PASSWORD") from exc
        self.start_trial(user)
        self._db.add(user)
        await self._db.flush()
        await self._record_lead(user, session_id=None, source="password")
        return user

    async def create_or_attach(
        self,
        email: str,
        *,
        city: str | None = None,
        niche: str | None = None,
        session_id: uuid.UUID | None = None,
    ) -> User:
        """The account of a verified e-mail (the funnel's code proved it): created when missing, with
        its trial; city and niche are filled in when given. A new account is a lead of ``session_id``."""
        user = await self.find(email)
        created = user is None
        if user is None:
            # Code sign-in only; a random password keeps the account closed to guessing.
            create = fu_schemas.BaseUserCreate(email=email, password=secrets.token_urlsafe(32), is_verified=True)
            user = await self._manager.create(create)
        self.start_trial(user)
        user.is_verified = True
        user.city = city or user.city
        user.niche = niche or user.niche
        self._db.add(user)
        await self._db.flush()
        if created:
            await self._record_lead(user, session_id=session_id, source="chat")
        return user

    async def _record_lead(self, user: User, *, session_id: uuid.UUID | None, source: str) -> None:
        visit = await repository.visit_of(self._db, session_id) if session_id is not None else None
        await self._leads.record_registration(
            user_id=user.id,
            contact=user.email,
            city=user.city,
            niche=user.niche,
            trial_ends_at=user.trial_ends_at,
            session_id=session_id,
            source=source,
            visit=visit,
        )

    async def verified_login(self, email: str) -> User | None:
        """The active account of an e-mail whose code was just verified (marked verified), or None."""
        user = await self.find(email)
        if user is None or not user.is_active:
            return None
        user.is_verified = True
        self._db.add(user)
        await self._db.flush()
        return user
