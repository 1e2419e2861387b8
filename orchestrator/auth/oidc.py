"""OIDC / JWT bearer tokens, verified with PyJWT against the issuer's JWKS (never by hand).

The issuer, audience and JWKS URL come from settings; the signature, ``exp``, ``nbf``, ``iss``
and ``aud`` are checked by ``jwt.decode`` (30 s leeway for clock skew). The principal is the
``auth_oidc_principal_claim`` (``sub``); the roles are the names of this orchestrator's roles
found in ``auth_oidc_roles_claim`` (a list, or a space/comma separated string; a dotted path
such as ``realm_access.roles`` reaches into nested claims, as Keycloak puts them).
"""

from __future__ import annotations

import re
from typing import Any

import jwt

from orchestrator.auth.roles import AuthFailure, Principal, Role, forbidden, unauthenticated

LEEWAY_S = 30
JWKS_CACHE_S = 300


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        *,
        principal_claim: str = "sub",
        roles_claim: str = "roles",
        algorithms: tuple[str, ...] = ("RS256", "ES256"),
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.principal_claim = principal_claim
        self.roles_claim = roles_claim
        self.algorithms = list(algorithms)
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=5)

    def verify(self, token: str) -> Principal:
        """The token's principal; AuthFailure 401 (bad token), 403 (no role) or 503 (no JWKS).

        Blocking (the JWKS is fetched with urllib when a key id is new): call it in a thread.
        """
        claims = self._claims(token)
        name = _claim(claims, self.principal_claim)
        if not isinstance(name, str) or not name.strip():
            raise unauthenticated(
                f"the token has no {self.principal_claim!r} claim to name its principal",
                "INVALID_TOKEN",
            )
        roles = _roles(_claim(claims, self.roles_claim))
        if not roles:
            wanted = ", ".join(r.value for r in Role)
            raise forbidden(
                f"the token of {name} carries none of the roles {wanted} in its "
                f"{self.roles_claim!r} claim"
            )
        return Principal(name.strip(), frozenset(roles), "oidc")

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("the token has expired", "EXPIRED_TOKEN") from None
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthFailure(503, "JWKS_UNAVAILABLE", f"cannot fetch the JWKS: {exc}") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise unauthenticated(f"invalid token: {exc}", "INVALID_TOKEN") from None
        return claims


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _roles(raw: Any) -> set[Role]:
    names = re.split(r"[\s,]+", raw) if isinstance(raw, str) else raw
    if not isinstance(names, list):
        return set()
    known = {r.value: r for r in Role}
    return {known[n.lower()] for n in names if isinstance(n, str) and n.lower() in known}
