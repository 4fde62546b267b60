"""Bearer tokens and what each may reach.

The check happens before a body is read, so an unauthenticated caller learns nothing about
scenarios. Tokens are compared, never logged or echoed.
"""

from __future__ import annotations

import hmac

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from .envelope import Code, CozeError


class TokenGrant(BaseModel):
    """A token and the bots and workflows it may use (None: all of them)."""

    model_config = ConfigDict(frozen=True)

    token: str = Field(min_length=1, repr=False)
    bots: frozenset[str] | None = None
    workflows: frozenset[str] | None = None


class Authenticator:
    def __init__(self, grants: list[TokenGrant]) -> None:
        if not grants:
            raise ValueError("the simulator needs at least one token")
        self._grants = grants

    def authenticate(self, request: HTTPConnection) -> TokenGrant:
        header = request.headers.get("authorization")
        if header is None:
            raise CozeError(
                Code.AUTH_FAILED,
                "authentication is invalid: the Authorization header is missing; send 'Authorization: Bearer <token>'",
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CozeError(
                Code.AUTH_FAILED,
                "authentication is invalid: the Authorization header must be 'Bearer <token>'",
            )
        token = token.strip()
        for grant in self._grants:
            if hmac.compare_digest(grant.token.encode(), token.encode()):
                return grant
        raise CozeError(
            Code.AUTH_FAILED,
            "authentication is invalid: the token is not known to this server; send "
            "'Authorization: Bearer <token>' with a token the simulator was started with (serve --token)",
        )

    @staticmethod
    def require_bot(grant: TokenGrant, bot_id: str) -> None:
        if grant.bots is not None and bot_id not in grant.bots:
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for bot {bot_id}")

    @staticmethod
    def require_workflow(grant: TokenGrant, workflow_id: str) -> None:
        if grant.workflows is not None and workflow_id not in grant.workflows:
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for workflow {workflow_id}")
