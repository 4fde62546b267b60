"""Bearer tokens and what each may reach.

The check happens before a body is read, so an unauthenticated caller learns nothing about
scenarios. Tokens are compared, never logged or echoed.

A scoped token learns nothing about what lies outside its grant either: a bot or workflow id it
names outside the grant is refused with 4101 whether or not it exists (the grant is checked before
the catalogue), and a chat or conversation that belongs to another bot answers exactly as an unknown
one does (4200).
"""

from __future__ import annotations

import hmac
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import HTTPConnection

from .envelope import Code, CozeError
from .profiles import AuthFailure

_TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,512}$")


class TokenGrant(BaseModel):
    """A token and the bots and workflows it may use (None: all of them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(min_length=1, repr=False)
    bots: frozenset[str] | None = None
    workflows: frozenset[str] | None = None

    @field_validator("token")
    @classmethod
    def _printable(cls, token: str) -> str:
        """A token a client can send: HTTP strips the spaces around a header value, so a token with a space
        (or any control or non-ASCII character) could never match, and would only look like protection."""
        if not _TOKEN_SHAPE.match(token):
            raise ValueError(
                "a token must be 1 to 512 visible ASCII characters, with no spaces (HTTP trims them from headers)"
            )
        return token

    def may_use_bot(self, bot_id: str | None) -> bool:
        return self.bots is None or bot_id in self.bots

    def may_use_workflow(self, workflow_id: str | None) -> bool:
        return self.workflows is None or workflow_id in self.workflows

    @property
    def unrestricted(self) -> bool:
        return self.bots is None and self.workflows is None


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
        """Before the bot is looked up: an id outside the grant gets 4101 whether it exists or not."""
        if not grant.may_use_bot(bot_id):
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for bot {bot_id}")

    @staticmethod
    def require_workflow(grant: TokenGrant, workflow_id: str) -> None:
        """Before the workflow is looked up, like `require_bot`."""
        if not grant.may_use_workflow(workflow_id):
            raise CozeError(Code.NO_PERMISSION, f"the token has no permission for workflow {workflow_id}")
