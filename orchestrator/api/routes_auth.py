"""``/api/token`` (Conductor's key exchange, who am I) and the credentials in /docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orchestrator.api.auth import Authenticator, principal_of
from orchestrator.api.openapi_errors import json_body
from orchestrator.auth import keys
from orchestrator.auth.roles import Permission, unauthenticated

router = APIRouter(prefix="/token", tags=["auth"])


class TokenRequest(BaseModel):
    keyId: str = Field(min_length=1, max_length=500)
    keySecret: str = Field(default="", max_length=500)


class TokenResponse(BaseModel):
    token: str


@router.post(
    "",
    response_model=TokenResponse,
    openapi_extra=json_body(TokenRequest.model_json_schema(), "The key id and its secret"),
)
async def token(request: Request) -> Any:
    """Exchange a key id and secret for a bearer token (conductor-python's
    ``AuthenticationSettings(key_id, key_secret)``); 401 without valid ones; 404 when
    authentication is off, which Conductor's SDKs take as "no authentication here"."""
    authenticator: Authenticator = request.app.state.authenticator
    if not authenticator.enabled:
        return JSONResponse(
            {"status": 404, "message": "authentication is off on this server (no tokens)"}, 404
        )
    try:  # read by hand: a missing or malformed body is a refused credential (401), not a 400
        body = TokenRequest.model_validate_json(await request.body())
    except ValueError:
        raise unauthenticated(
            'no credentials: send {"keyId": "key_...", "keySecret": "..."}', "INVALID_KEY"
        ) from None
    key_id, secret = body.keyId.strip(), body.keySecret.strip()
    if (whole := keys.split_key(key_id)) is not None:  # the whole key given as the id
        key_id, secret = whole
    secret = secret.removeprefix(key_id + ".")  # or as the secret
    return TokenResponse(token=await authenticator.exchange(key_id, secret))


@router.get("/userInfo")
async def user_info(request: Request) -> dict[str, Any]:
    """Who the credential names: principal, roles, task types (null: any)."""
    principal = principal_of(request)
    types = sorted(principal.task_types) if principal.task_types is not None else None
    return {
        "id": principal.name,
        "roles": sorted(r.value for r in principal.roles),
        "via": principal.via,
        "keyId": principal.key_id,
        "taskTypes": types,
    }


def document_security(app: Any) -> None:
    """/docs: the two ways to send a credential, required by every non-public operation (its
    "Authorize" button then works)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (key_<id>.<secret>), a token from POST /api/token, "
                "or an OIDC JWT",
            }
            schemes["xAuthorization"] = {
                "type": "apiKey",
                "in": "header",
                "name": "X-Authorization",
                "description": "The same credential, as Conductor's SDKs send it",
            }
            public = {
                (r.method.lower(), r.path)
                for r in app.state.route_index.routes
                if r.permission is Permission.PUBLIC
            }
            for path, item in spec.get("paths", {}).items():
                for method, operation in item.items():
                    if (method, path) not in public:
                        operation["security"] = [{"bearer": []}, {"xAuthorization": []}]
            app.openapi_schema = spec
        return app.openapi_schema  # type: ignore[no-any-return]

    app.openapi = openapi
