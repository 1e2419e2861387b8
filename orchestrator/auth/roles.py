"""Who may do what: roles, the permissions they grant, and the authenticated principal.

Pure values (no I/O): the API's access rules (orchestrator/api/access.py) name a permission per
route, the authenticator (orchestrator/api/auth.py) turns a credential into a ``Principal``, and
``Principal.may`` decides. Roles are fixed, not configurable, so that a route's rule and the
tests' route x role table say the same thing everywhere:

- ``viewer``: read and search executions, definitions, queues, history and metrics.
- ``operator``: a viewer who also starts and operates workflows (terminate, pause, retry,
  rerun, skip, bulk, remove) and completes tasks by reference (WAIT, HUMAN).
- ``worker``: polls tasks and reports their results, optionally only of some task types; it
  reads nothing else.
- ``admin``: everything, definitions and keys included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    WORKER = "worker"


class Permission(StrEnum):
    PUBLIC = "public"  # no credentials needed (health, the UI's static files, /api/token)
    AUTHENTICATED = "authenticated"  # any valid credential (who am I)
    READ = "read"
    OPERATE = "operate"
    COMPLETE_TASK = "complete_task"  # finish an open task by reference: operators and workers
    WORK = "work"  # poll tasks, report results
    DEFINE = "define"  # register, update and delete definitions
    MANAGE_KEYS = "manage_keys"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {Permission.AUTHENTICATED, Permission.READ, Permission.OPERATE, Permission.COMPLETE_TASK}
    ),
    Role.VIEWER: frozenset({Permission.AUTHENTICATED, Permission.READ}),
    Role.WORKER: frozenset({Permission.AUTHENTICATED, Permission.WORK, Permission.COMPLETE_TASK}),
}

# Who may do it, least powerful first, for messages ("needs operator or admin").
_BY_POWER = (Role.VIEWER, Role.WORKER, Role.OPERATOR, Role.ADMIN)
_HOLDERS = {p: [r.value for r in _BY_POWER if p in GRANTS[r]] for p in Permission}

WHAT = {
    Permission.AUTHENTICATED: "use the API",
    Permission.READ: "read executions and definitions",
    Permission.OPERATE: "start or operate workflows",
    Permission.COMPLETE_TASK: "complete tasks",
    Permission.WORK: "poll tasks or report their results",
    Permission.DEFINE: "register or delete definitions",
    Permission.MANAGE_KEYS: "manage API keys",
}


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {raw!r}: expected one of {allowed}") from None


def holders(permission: Permission) -> str:
    """'operator or admin': the roles that grant ``permission``."""
    names = _HOLDERS[permission]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``name`` is what the audit log records (``api:<name>``)."""

    name: str
    roles: frozenset[Role]
    via: str  # "key", "token", "oidc" or "auth-off"
    key_id: str | None = None
    task_types: frozenset[str] | None = None  # a worker limited to these types; None: any

    def may(self, permission: Permission) -> bool:
        return permission is Permission.PUBLIC or any(permission in GRANTS[r] for r in self.roles)

    def may_work_on(self, task_type: str) -> bool:
        """A limited worker may only touch its task types; every other principal any."""
        if Role.ADMIN in self.roles or self.task_types is None:
            return True
        return task_type in self.task_types

    @property
    def limited(self) -> bool:
        return self.task_types is not None and Role.ADMIN not in self.roles

    def refusal(self, permission: Permission) -> str:
        roles = ", ".join(sorted(r.value for r in self.roles)) or "no role"
        return (
            f"{self.name} ({roles}) may not {WHAT.get(permission, permission.value)}: "
            f"that needs the role {holders(permission)}"
        )

    @property
    def api_actor(self) -> str:
        return f"api:{self.name}"

    @property
    def worker_actor(self) -> str:
        return f"worker:{self.name}"


ANONYMOUS = Principal("anonymous", frozenset({Role.ADMIN}), "auth-off")


class AuthFailure(Exception):
    """A refused credential: 401 (none, unknown, expired) or 403 (valid but not allowed).

    ``code`` is what Conductor's SDKs read from the error body: EXPIRED_TOKEN and INVALID_TOKEN
    make them exchange their key for a new token and retry once.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unauthenticated(message: str, code: str = "UNAUTHENTICATED") -> AuthFailure:
    return AuthFailure(401, code, message)


def forbidden(message: str) -> AuthFailure:
    return AuthFailure(403, "FORBIDDEN", message)
