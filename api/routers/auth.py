"""Sign-in (OAuth2 password form → bearer token) and the caller's own identity."""

from typing import Annotated

from fastapi import Form, Request

from api.services import accounts
from api.web.credentials import client_address
from api.web.deps import CallerDep, SessionDep, resource_router
from models.accounts import MePublic, TokenPublic

router = resource_router(tags=["auth"])


@router.post("/auth/token", status_code=200)
async def issue_token(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> TokenPublic:
    """Exchange a username and password (OAuth2 password form) for a bearer token."""
    return await accounts.sign_in(
        session,
        username=username,
        password=password,
        address=client_address(request.scope),
        settings=request.app.state.settings,
    )


@router.get("/me", status_code=200)
async def get_me(caller: CallerDep) -> MePublic:
    """Who you are: username, role and unit (an API key answers role `integrator`)."""
    return MePublic(username=caller.username or "", role=caller.role, unit_code=caller.unit_code)
