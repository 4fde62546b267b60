"""Bearer tokens and what each may reach.

The check happens before a body is read, so an unauthenticated caller learns nothing about
scenarios. Tokens are compared, never logged or echoed.
"""

from __future__ import annotations

import hmac

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from .envelope import Code, CozeError
from .profiles import AuthFailure


class TokenGrant(BaseModel):
    """A token and the bots and workflows it may use (None: all of them)."""

    model_config = ConfigDict(frozen=True)

    token: str = Field(min_length=1, repr=False)
    bots: frozenset[str] | None = None
    workflows: frozenset[str] | None = None


class Authenticator:
    """Checks bearer tokens; how a failure looks (status, code, message) is the platform profile's."""

    def __init__(self, grants: list[TokenGrant], failure: AuthFailure) -> None:
        if not grants:
            raise ValueError("the simulator needs at least one token")
        self._grants = grants
        self._failure = failure

    def _refuse(self, msg: str) -> CozeError:
        return CozeError(self._failure.code, msg, status=self._failure.status)

    def authenticate(self, request: HTTPConnection) -> TokenGrant:
        header = request.headers.get("authorization")
        if header is None:
            raise self._refuse(self._failure.missing)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._refuse(self._failure.malformed)
        token = token.strip()
        for grant in self._grants:
            if hmac.compare_digest(grant.token.encode(), token.encode()):
                return grant
        raise self._refuse(self._failure.unknown)

    @staticmethod
    def require_bot(grant: TokenGrant, bot_id: str) -> None:
        if grant.bots is not None and bot_id not in grant.bots:
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for bot {bot_id}")

    @staticmethod
    def require_workflow(grant: TokenGrant, workflow_id: str) -> None:
        if grant.workflows is not None and workflow_id not in grant.workflows:
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for workflow {workflow_id}")
