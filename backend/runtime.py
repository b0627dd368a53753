"""The composition root: builds the long-lived objects once per process.

Used by the FastAPI lifespan and by Celery worker processes, so a chat turn runs through the same
engine, services and stores whether it came over HTTP, SSE or the ``text`` queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.assistant.engine import TurnEngine
from backend.assistant.factory import build_engine
from backend.auth.mailer import CodeMailer
from backend.auth.sessions import SessionStore
from backend.chat.service import ChatService
from backend.codes.service import CodeService
from backend.core.celery import create_celery_app
from backend.core.config import Settings
from backend.core.database import async_session_factory, create_async_db_engine
from backend.core.ratelimit import RateLimiter
from backend.core.redis import create_async_redis, resolve_redis_url
from backend.health.service import HealthRegistry, database_check, redis_check
from backend.knowledge.service import KnowledgeBase
from backend.limits.service import OfftopicQuota
from backend.voice.service import VoiceService
from backend.voice.tracking import TaskTracker


@dataclass
class Runtime:
    settings: Settings
    db_engine: AsyncEngine
    db_factory: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    limiter: RateLimiter
    knowledge: KnowledgeBase
    engine: TurnEngine
    health: HealthRegistry
    voice: VoiceService

    def chat_service(self) -> ChatService:
        return ChatService(
            engine=self.engine,
            store=SessionStore(self.redis, self.settings.SESSION_TTL_SECONDS),
            redis=self.redis,
            offtopic=OfftopicQuota(self.limiter, self.settings.RATE_OFFTOPIC),
            settings=self.settings,
        )

    async def aclose(self) -> None:
        await self.engine.aclose()
        await self.knowledge.aclose()
        await self.redis.aclose()
        await self.db_engine.dispose()


async def build_runtime(settings: Settings) -> Runtime:
    db_engine = create_async_db_engine(settings)
    db_factory = async_session_factory(db_engine)
    redis_url = resolve_redis_url(settings)
    redis = create_async_redis(redis_url)
    limiter = RateLimiter(redis)
    knowledge = await KnowledgeBase.open(settings)
    engine = build_engine(
        settings,
        knowledge=knowledge,
        encode=knowledge.encode_queries,
        codes=CodeService(redis, limiter, settings),
        mailer=CodeMailer(settings),
    )
    celery = create_celery_app(settings, redis_url)  # the producer of voice tasks (and their runner when eager)
    voice = VoiceService(settings=settings, celery=celery, db_factory=db_factory, tracker=TaskTracker(redis, celery))
    health = HealthRegistry()
    health.register("database", database_check(db_engine))
    health.register("redis", redis_check(redis))
    health.register("vector_store", knowledge.health_check)
    return Runtime(settings, db_engine, db_factory, redis, limiter, knowledge, engine, health, voice)
