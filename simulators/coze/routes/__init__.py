"""The open API routes, one module per resource: each authenticates, decodes, calls an engine, answers."""

from fastapi import APIRouter

from . import bots, chat, chatflow, conversations, files, messages, workflows, ws_chat

ROUTERS: tuple[APIRouter, ...] = (
    chat.router,
    workflows.router,
    chatflow.router,
    ws_chat.router,
    conversations.router,
    messages.router,
    files.router,
    bots.router,
)
"""Every router the app mounts, in order; a new resource's module adds its router here."""
