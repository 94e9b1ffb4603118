"""API tokens through the API, for admins: list them (never their secrets) and revoke one.

Revoking works while the service runs (on DuckDB the command line cannot open the store the
service holds): the token is refused from its next request on, even if it was verified a
moment ago, and its dashboard sessions end. It is audited as ``token.revoke`` by the admin's
token, with the number of sessions ended.

Tokens are *created* only with ``trustshield tokens create``, by whoever can open the store,
never through the API: an admin token (or someone who stole one) must not be able to mint
further credentials that outlive its own revocation, nor grant ``red-team``, which ``admin``
deliberately does not imply.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from trustshield.service.access import Caller, requires
from trustshield.service.errors import ApiError
from trustshield.service.refusals import flush_on_stop

#: its lifespan writes the refusal counts still held when the service stops
router = APIRouter(prefix="/v1", tags=["tokens"], lifespan=flush_on_stop)
TOKEN_ID = Path(pattern=r"^[0-9a-f]{12}$", description="the token's id (12 hex digits)")


class TokenRow(BaseModel):
    token_id: str
    name: str
    roles: list[str]
    created_at: datetime | None
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None


class TokenList(BaseModel):
    items: list[TokenRow]


class Revoked(TokenRow):
    sessions_ended: int


@router.get("/tokens", response_model=TokenList)
def list_tokens(request: Request, caller: Caller = Depends(requires("tokens.list"))) -> dict:
    """Every token, oldest first, without secrets."""
    context = request.app.state.context
    with context.read():
        return {"items": context.tokens.list()}


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=Revoked,
    responses={404: {"description": "no such token"}, 409: {"description": "already revoked"}},
)
def revoke_token(
    request: Request, token_id: str = TOKEN_ID, caller: Caller = Depends(requires("tokens.revoke"))
) -> dict:
    """Revoke a token now (audited ``token.revoke``); its dashboard sessions end too."""
    context = request.app.state.context
    with context.write(caller.actor):
        row = context.tokens.get(token_id)
        if row is None:
            raise ApiError(404, f"no token with id {token_id!r}; GET /v1/tokens lists them")
        if row["revoked_at"] is not None:
            raise ApiError(
                409, f"token {token_id} was already revoked at {row['revoked_at'].isoformat()}"
            )
        ended = context.tokens.revoke(token_id)
        return {**context.tokens.get(token_id), "sessions_ended": ended}
