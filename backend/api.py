"""Includes each domain router. Nothing else."""

from fastapi import APIRouter

from backend.admin.console.router import router as console_router
from backend.admin.router import router as admin_router
from backend.auth.router import router as auth_router
from backend.chat.router import router as chat_router
from backend.codes.router import router as codes_router
from backend.health.router import router as health_router
from backend.metrics.router import router as metrics_router
from backend.voice.router import router as voice_router

api_router = APIRouter()
# The chat router first: FastAPI tries the routers in this order for every request, and the chat turns
# are most of the traffic (their paths are fixed strings no other router's path can match).
api_router.include_router(chat_router)
api_router.include_router(health_router)
api_router.include_router(auth_router)
api_router.include_router(codes_router)
api_router.include_router(voice_router)
api_router.include_router(metrics_router)
api_router.include_router(admin_router)
api_router.include_router(console_router)
